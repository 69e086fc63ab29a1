/** Library routes: list and filter songs, rejected files, rescan. */
import { z } from 'zod'
import type { Library, Song } from '../../library/types.ts'
import { log } from '../../shared/logger.ts'
import { httpRoute } from '../route.ts'

const logger = log('api:library')

/** Case- and accent-insensitive form: "Beyoncé" matches "beyonce". */
function fold(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase()
}

/** Every whitespace-separated term must appear in the title, artist, album or file name. Sorted for display. */
export function filterSongs(songs: Song[], query: string | undefined): Song[] {
  const terms = fold(query ?? '')
    .split(/\s+/)
    .filter(Boolean)
  const matching =
    terms.length === 0
      ? songs
      : songs.filter((song) => {
          const fileName = song.path.split(/[\\/]/).pop() ?? ''
          const haystack = fold(`${song.title}\n${song.artist}\n${song.album}\n${fileName}`)
          return terms.every((term) => haystack.includes(term))
        })
  return [...matching].sort(
    (a, b) =>
      a.artist.localeCompare(b.artist) || a.album.localeCompare(b.album) || a.title.localeCompare(b.title),
  )
}

// One rescan at a time per library; a second request joins the running one.
const runningRescans = new WeakMap<Library, Promise<void>>()

export const libraryRoutes = [
  httpRoute({
    method: 'GET',
    url: '/api/library',
    schema: { query: z.object({ q: z.string().max(500).optional() }) },
    handler: ({ components, query }) => {
      const all = components.library.list()
      const songs = filterSongs(all, query.q)
      return { songs, total: all.length }
    },
  }),
  httpRoute({
    method: 'GET',
    url: '/api/library/rejected',
    handler: ({ components }) => ({ rejected: components.library.rejected() }),
  }),
  httpRoute({
    method: 'POST',
    url: '/api/library/rescan',
    schema: { body: z.object({}).strict().optional() },
    handler: ({ components, reply }) => {
      const library = components.library
      if (runningRescans.has(library)) {
        reply.code(202)
        return { status: 'already-running' }
      }
      // Progress and results reach the UI over the event stream (scan:progress, scan:done).
      const rescan = library
        .rescan()
        .catch((err: Error) => logger.error('rescan failed: %s', err.message))
        .finally(() => runningRescans.delete(library))
      runningRescans.set(library, rescan)
      reply.code(202)
      return { status: 'started' }
    },
  }),
]
