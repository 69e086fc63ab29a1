/** Registers the party room as the UI's Party page (see web/src/pages.ts). */
import type { UiPage } from '../pages.ts'
import { PartyRoom } from './PartyRoom.tsx'

export const page: UiPage = { id: 'party', title: 'Party', order: 30, Component: PartyRoom }
