/**
 * One search as the asker sees it: hits stream in (events or `for await`) as
 * providers answer, grouped by content id with their providers ranked; the
 * session ends at its timeout or when its signal aborts.
 */
import { pushable } from 'it-pushable'
import { TypedEmitter } from '../shared/events.ts'
import { addHit, type Provider, rankProviders, rankResults, type SearchResult } from './rank.ts'
import type { SongHit } from './schema.ts'

export interface SearchHit {
  queryId: string
  hit: SongHit
  provider: Provider
  /** When it arrived, ms after the search started. */
  atMs: number
  /** The result's group after this hit was added (all providers so far). */
  group: SearchResult
}

export interface SearchSummary {
  queryId: string
  results: number
  providers: number
  firstResultMs?: number
  lastResultMs?: number
}

export interface SearchSessionEvents extends Record<string, unknown> {
  hit: SearchHit
  /** A provider's RTT was measured after its hits arrived; `results()` is re-ranked. */
  rtt: { peerId: string; rttMs: number }
  done: SearchSummary
}

export class SearchSession extends TypedEmitter<SearchSessionEvents> implements AsyncIterable<SearchHit> {
  readonly id: string
  readonly #groups = new Map<string, SearchResult>()
  readonly #providers = new Set<string>()
  readonly #queue = pushable<SearchHit>({ objectMode: true })
  readonly #done: PromiseWithResolvers<SearchSummary> = Promise.withResolvers()
  readonly #onEnd: () => void
  #finished = false
  #first: number | undefined
  #last: number | undefined

  constructor(id: string, onEnd: () => void) {
    super()
    this.id = id
    this.#onEnd = onEnd
  }

  /** Resolves with a summary when the search ends. */
  get finished(): Promise<SearchSummary> {
    return this.#done.promise
  }

  get isFinished(): boolean {
    return this.#finished
  }

  /** Grouped by content id, best first; providers of each ranked by RTT and load. */
  results(): SearchResult[] {
    return rankResults(this.#groups.values())
  }

  /** @internal called by the search component as results arrive. */
  add(hits: SongHit[], provider: Provider, atMs: number): void {
    if (this.#finished) return
    this.#providers.add(provider.peerId)
    this.#first ??= atMs
    this.#last = atMs
    for (const hit of hits) {
      const group = addHit(this.#groups, hit, provider)
      const event: SearchHit = { queryId: this.id, hit, provider, atMs, group }
      this.#queue.push(event)
      this.emit('hit', event)
    }
  }

  /** @internal a provider's RTT came in: update it in every group and re-rank. */
  updateRtt(peerId: string, rttMs: number): void {
    let changed = false
    for (const group of this.#groups.values()) {
      const provider = group.providers.find((p) => p.peerId === peerId)
      if (provider === undefined) continue
      provider.rttMs = rttMs
      group.providers = rankProviders(group.providers)
      changed = true
    }
    if (changed) this.emit('rtt', { peerId, rttMs })
  }

  /** Ends the search now; idempotent. */
  end(): void {
    if (this.#finished) return
    this.#finished = true
    this.#queue.end()
    this.#onEnd()
    const summary: SearchSummary = {
      queryId: this.id,
      results: this.#groups.size,
      providers: this.#providers.size,
      firstResultMs: this.#first,
      lastResultMs: this.#last,
    }
    this.emit('done', summary)
    this.#done.resolve(summary)
  }

  [Symbol.asyncIterator](): AsyncIterator<SearchHit> {
    return this.#queue[Symbol.asyncIterator]()
  }
}
