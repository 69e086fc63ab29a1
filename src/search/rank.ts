/**
 * Grouping and ranking of search hits (pure). Hits from many providers are
 * grouped by content id; providers are ranked by measured RTT plus a penalty
 * per active upload, so a fast idle peer comes first; results by match score,
 * then by how many peers can serve them.
 */
import type { SongHit } from './schema.ts'

export interface Provider {
  peerId: string
  addrs: string[]
  /** Round-trip time measured by ping, ms; undefined when it could not be measured. */
  rttMs?: number
  /** Active uploads the provider reported. */
  load: number
  /** Hops the query travelled to reach it. */
  hops: number
}

export interface SearchResult extends Omit<SongHit, 'score'> {
  score: number
  providers: Provider[]
}

/** Assumed RTT when a provider's could not be measured: behind anyone measured as reasonably fast. */
const UNKNOWN_RTT_MS = 500
/** One active upload costs about as much as this much extra latency. */
const LOAD_PENALTY_MS = 50

export function providerCost(provider: Provider): number {
  return (provider.rttMs ?? UNKNOWN_RTT_MS) + provider.load * LOAD_PENALTY_MS
}

export function rankProviders(providers: Provider[]): Provider[] {
  return [...providers].sort((a, b) => providerCost(a) - providerCost(b) || (a.peerId < b.peerId ? -1 : 1))
}

/** Adds one provider's hit to the groups; returns the updated group. */
export function addHit(groups: Map<string, SearchResult>, hit: SongHit, provider: Provider): SearchResult {
  let group = groups.get(hit.cid)
  if (group === undefined) {
    group = { ...hit, providers: [] }
    groups.set(hit.cid, group)
  }
  group.score = Math.max(group.score, hit.score)
  const known = group.providers.findIndex((p) => p.peerId === provider.peerId)
  if (known >= 0) group.providers[known] = provider
  else group.providers.push(provider)
  group.providers = rankProviders(group.providers)
  return group
}

export function rankResults(groups: Iterable<SearchResult>): SearchResult[] {
  return [...groups].sort(
    (a, b) =>
      b.score - a.score ||
      b.providers.length - a.providers.length ||
      providerCost(a.providers[0]) - providerCost(b.providers[0]) ||
      a.title.localeCompare(b.title),
  )
}
