/** Registers the Downloads page (see web/src/pages.ts). */
import type { UiPage } from '../pages.ts'
import { DownloadsPage } from './Downloads.tsx'

export const page: UiPage = { id: 'downloads', title: 'Downloads', order: 40, Component: DownloadsPage }
