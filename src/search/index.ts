/** Network search, catalog browsing, reachability and the peer cache: what other modules import. */
export type { BrowseOptions, CatalogPage, CatalogSong } from './catalog.ts'
export { CatalogRefusedError, EmptyQueryError, PeerUnreachableError } from './errors.ts'
export { createPeerCache, PeerCache, type PeerCacheInit } from './peer-cache.ts'
export type { Provider, SearchResult } from './rank.ts'
export type { Reachability, ReachabilityStatus } from './reachability.ts'
export { CATALOG_PROTOCOL, RESULTS_PROTOCOL, SEARCH_PROTOCOL } from './schema.ts'
export {
  createSearch,
  type PeerScore,
  Search,
  type SearchComponents,
  type SearchInit,
  type SearchOptions,
  type SearchQuery,
  type SearchStats,
} from './search.ts'
export type { SearchHit, SearchSession, SearchSummary } from './session.ts'
export {
  type ShareScope,
  type ShareScopeCheck,
  type ShareSettings,
  shareEverything,
  shareScopeCheck,
} from './share.ts'
