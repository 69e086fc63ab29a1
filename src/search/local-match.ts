/**
 * Matches a query against this node's own library: the text index kept in
 * step with library events, duration filters, and the share settings of the
 * asking peer. The result is what this node answers a query with.
 */
import type { Library, Song } from '../library/types.ts'
import type { QueryFilters, SongHit } from './schema.ts'
import type { ShareScopeCheck } from './share.ts'
import { TextIndex } from './text-index.ts'

export class LocalMatcher {
  readonly #library: Library
  readonly #shareScope: ShareScopeCheck
  readonly #index = new TextIndex()
  #unsubscribe: Array<() => void> = []

  constructor(library: Library, shareScope: ShareScopeCheck) {
    this.#library = library
    this.#shareScope = shareScope
  }

  start(): void {
    if (this.#unsubscribe.length > 0) return
    for (const song of this.#library.list()) this.#index.add(song.cid, song)
    this.#unsubscribe.push(
      this.#library.on('song:added', (song) => this.#index.add(song.cid, song)),
      this.#library.on('song:removed', ({ cid }) => {
        // Another copy of the same content may still be in the library.
        const again = this.#library.get(cid)
        if (again === undefined) this.#index.remove(cid)
      }),
    )
  }

  stop(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe()
    this.#unsubscribe = []
  }

  get size(): number {
    return this.#index.size
  }

  /** Songs matching `text` and `filters` that `asker` may see, best first. */
  match(text: string, filters: QueryFilters, asker: string, limit: number): SongHit[] {
    const hits: SongHit[] = []
    // Over-fetch: duration and share filters run after the index.
    for (const { id, score } of this.#index.search({ text, ...filters }, limit * 4 + 20)) {
      const song = this.#library.get(id)
      if (song === undefined || !durationMatches(song, filters) || !this.#shareScope(asker, song)) continue
      hits.push(toHit(song, score))
      if (hits.length >= limit) break
    }
    return hits
  }
}

function durationMatches(song: Song, filters: QueryFilters): boolean {
  if (filters.minDurationSec !== undefined && song.durationSec < filters.minDurationSec) return false
  if (filters.maxDurationSec !== undefined && song.durationSec > filters.maxDurationSec) return false
  return true
}

export function toHit(song: Song, score: number): SongHit {
  return {
    cid: song.cid,
    title: song.title.slice(0, 200),
    artist: song.artist.slice(0, 200),
    album: song.album.slice(0, 200),
    durationSec: Math.min(86_400, Math.max(0, song.durationSec)),
    size: song.size,
    format: song.format,
    score: Math.min(1_000, score),
  }
}
