/**
 * The local API's contract: the narrow set of components it serves from, and
 * the typed events its WebSocket stream forwards to the web UI. Contracts only:
 * nothing here imports code.
 */
import type { Library, LibraryEvents } from '../library/types.ts'
import type { PartyService, PartyStatus } from '../party/service.ts'
import type { ShareFolder } from '../search/share.ts'
import type { DownloadInfo, Swarm } from '../swarm/types.ts'

/** Bytes of a song by content id. The library serves them from disk; the swarm, later, as pieces arrive. */
export interface SongSource {
  /** Size and MIME type, or undefined when this node cannot serve the song. */
  stat(cid: string): { size: number; mime: string } | undefined
  /** Bytes `start..endInclusive` in order; stops when `signal` aborts (the HTTP client went away). */
  read(cid: string, start: number, endInclusive: number, signal: AbortSignal): AsyncIterable<Uint8Array>
}

/** What GET /api/status answers. Nodes may add fields; the UI shows the ones it knows. */
export interface NodeStatus {
  peerId: string
  addresses: string[]
  version: string
  uptimeSec: number
  /** Open libp2p connections. */
  connections: number
  songs: number
  rejected: number
  libraries: string[]
  /** Who may see each folder's songs (`--share`); the longest matching folder wins. */
  shares?: ShareFolder[]
  /** Swarm limits in force (`--upload-rate` ...); an absent rate is uncapped. */
  limits?: { uploadRateBytes?: number; downloadRateBytes?: number; maxPeers: number; maxRequests: number }
}

export type PeerSource = 'mdns' | 'bootstrap' | 'dht' | 'party' | 'manual' | (string & {})

/** One row of GET /api/peers (the peer table's records fit this shape). */
export interface PeerInfo {
  peerId: string
  addresses: string[]
  connected: boolean
  /** Smoothed round-trip time in ms; undefined until measured. */
  rttMs?: number
  /** How we learned of the peer, when known. */
  source?: PeerSource
}

export interface NodeView {
  status(): NodeStatus
  peers(): PeerInfo[]
}

/**
 * Events the UI follows over GET /api/events. A module that publishes more
 * (swarm downloads, party state) adds its keys here and to
 * `STREAMED_EVENT_TYPES` in routes/events.ts.
 */
export interface ApiEventMap {
  'song:added': LibraryEvents['song:added']
  'song:removed': LibraryEvents['song:removed']
  'scan:progress': LibraryEvents['scan:progress']
  'scan:done': LibraryEvents['scan:done']
  'peer:connected': PeerInfo
  'peer:disconnected': PeerInfo
  status: NodeStatus
  'party:update': PartyStatus
  'party:closed': { partyId: string; reason: string }
  'party:pending': { partyId: string }
  'party:host-changed': { partyId: string; leader: string; term: number }
  'download:progress': DownloadInfo
  'download:done': DownloadInfo
  'download:failed': DownloadInfo
}

/** The same map in the shape `TypedEmitter<ApiEvents>` wants. */
export type ApiEvents = ApiEventMap & Record<string, unknown>

/** The event bus as the API uses it: subscribe only. Any `TypedEmitter` fits. */
export interface EventBus {
  on(type: string, listener: (payload: unknown) => void): () => void
}

/**
 * A restricted credential another module issues (the party's speaker tokens):
 * accepted instead of the install token, for the routes it opens only.
 */
export interface ScopedCredential {
  /** True when `token` is one of this module's and opens `method` on `path` (no query string). */
  allows(token: string, method: string, path: string): boolean
}

/**
 * Everything the API serves from. Later modules add optional fields (for
 * example `swarm?: SwarmApi`); their routes declare `requires: 'swarm'` and
 * answer 503 while the component is absent.
 */
export interface ApiComponents {
  library: Library
  songs: SongSource
  node: NodeView
  events: EventBus
  /** Restricted tokens besides the install token; consulted on every request, so the list may change. */
  credentials?: ScopedCredential[]
  /** Serves /api/party/* (routes/party.ts). */
  party?: PartyService
  /** Serves /api/downloads/* (routes/swarm.ts). */
  swarm?: Swarm
}

/** One frame of the event stream, as JSON text on the WebSocket. */
export type ApiEventFrame = {
  [K in keyof ApiEventMap]: { type: K; payload: ApiEventMap[K] }
}[keyof ApiEventMap]
