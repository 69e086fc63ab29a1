/** Registers the Search page (see web/src/pages.ts). */
import type { UiPage } from '../pages.ts'
import { SearchPage } from './Search.tsx'

export const page: UiPage = { id: 'search', title: 'Search', order: 20, Component: SearchPage }
