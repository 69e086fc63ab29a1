/**
 * The pages of the UI and their order in the navigation.
 *
 * Built-in: Library, Peers, Status. Slots: Search, Party, Downloads — a
 * placeholder until the module that owns the page adds it. To add a page,
 * create `web/src/<module>/page.tsx` exporting
 *
 *   export const page: UiPage = { id: 'party', title: 'Party', order: 30, Component: PartyPage }
 *
 * and the shell picks it up at build time (Vite's import.meta.glob); an `id`
 * equal to a slot's replaces that slot. A page is shown at `#/<id>`; the rest
 * of the hash path and its query reach the component as props
 * (`#/party/join?invite=…` → route ['join'], query invite=…).
 */
import type { ComponentType } from 'react'

export interface PageProps {
  /** Hash path segments after the page id. */
  route: string[]
  query: URLSearchParams
}

export interface UiPage {
  id: string
  title: string
  /** Position in the navigation, ascending. Built-ins: library 10, search 20, party 30, downloads 40, peers 50, status 60. */
  order: number
  Component: ComponentType<PageProps>
  /** Shown in the navigation next to the title (e.g. a count). */
  badge?: ComponentType
}

export interface PageSlot {
  id: string
  title: string
  order: number
  /** What the placeholder says until the page exists. */
  blurb: string
}

export const PAGE_SLOTS: PageSlot[] = [
  {
    id: 'search',
    title: 'Search',
    order: 20,
    blurb: 'Search the music of every peer in the network and fetch songs from all who have them.',
  },
  {
    id: 'party',
    title: 'Party',
    order: 30,
    blurb:
      'Start a listening party or join one with an invite: a shared queue played in sync on every device.',
  },
  {
    id: 'downloads',
    title: 'Downloads',
    order: 40,
    blurb: 'Songs being fetched from peers, piece by piece, with progress and sources.',
  },
]

/** Pages other modules contributed, found at build time. */
export function discoveredPages(): UiPage[] {
  const modules = import.meta.glob<{ page?: UiPage }>('./*/page.tsx', { eager: true })
  return Object.values(modules)
    .map((module) => module.page)
    .filter((page): page is UiPage => page !== undefined)
}
