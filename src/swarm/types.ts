/** The swarm's public contract: what the node, API, CLI and web UI may rely on. */
import type { SongSource } from '../api/types.ts'

export type DownloadState =
  | 'finding'
  | 'downloading'
  | 'paused'
  | 'verifying'
  | 'done'
  | 'failed'
  | 'cancelled'

export interface DownloadSource {
  peerId: string
  /** Bytes of verified pieces this peer delivered. */
  bytes: number
  rateBps: number
  rttMs?: number
  /** The peer's reported active uploads. */
  load: number
  choked: boolean
}

/** One row of the downloads list; also the payload of progress events. */
export interface DownloadInfo {
  cid: string
  state: DownloadState
  /** 0..100; 0 until the manifest is known. */
  percent: number
  size?: number
  bytesDone: number
  piecesDone: number
  pieces?: number
  /** Current verified download rate, bytes/s. */
  rateBps: number
  /** Seconds to completion at the current rate, when known. */
  etaSec?: number
  /** Connected peers for this song. */
  peers: number
  /** The peers currently serving us, fastest first. */
  sources: DownloadSource[]
  /** Where the finished song lives. */
  path?: string
  error?: string
  /** Peers banned for this song (bad pieces). */
  banned: string[]
}

export interface SwarmEvents extends Record<string, unknown> {
  'download:progress': DownloadInfo
  'download:done': DownloadInfo
  'download:failed': DownloadInfo
  /** A verified piece arrived (order of arrival is observable for tests and the UI's piece map). */
  'piece:verified': { cid: string; piece: number; peerId: string }
  'peer:banned': { cid: string; peerId: string; node: boolean }
  /** The DHT accepted our provider record for this song. */
  'song:provided': { cid: string }
}

export interface DownloadOptions {
  /** Peers to ask first (party members): peer id strings or multiaddrs ending in /p2p/<id>. */
  providers?: string[]
  signal?: AbortSignal
}

export interface ReadOptions {
  signal?: AbortSignal
  providers?: string[]
}

export interface Swarm {
  start(): Promise<void>
  stop(): Promise<void>
  /** Fetch a song; resolves with its final info once it is verified and in the library. */
  download(cid: string, options?: DownloadOptions): Promise<DownloadInfo>
  /** Start (or join) a download without waiting for it. */
  startDownload(cid: string, options?: { providers?: string[] }): DownloadInfo
  pause(cid: string): DownloadInfo
  resume(cid: string): DownloadInfo
  /** Stop and delete a partial download. */
  cancel(cid: string): Promise<void>
  list(): DownloadInfo[]
  get(cid: string): DownloadInfo | undefined
  /**
   * The one streaming primitive: bytes `start..endInclusive` of a song, in
   * order, as they become available. Pieces ahead of the read position become
   * critical. Songs in the library are read straight from disk.
   */
  read(cid: string, start: number, endInclusive: number, options?: ReadOptions): AsyncIterable<Uint8Array>
  /**
   * Size of a song we can serve (library or known manifest); `undefined` when
   * we cannot. Throws `ManifestPendingError` (503, retryable) while a download
   * of it is still waiting for its manifest.
   */
  stat(cid: string): { size: number; mime: string } | undefined
  /**
   * Same, but a download still waiting for its manifest is waited for
   * (resolved the moment it arrives); `undefined` if that download is
   * cancelled or fails first. Rejects when `signal` aborts.
   */
  waitForStat(
    cid: string,
    options?: { signal?: AbortSignal },
  ): Promise<{ size: number; mime: string } | undefined>
  /** Our active uploads (unchoked peers): the load figure peers and search answers report. */
  load(): number
  /** Same as `load()`. */
  activeUploads(): number
  /** Adapter for the API's HTTP Range route. */
  songSource(): SongSource
  on<K extends keyof SwarmEvents>(type: K, listener: (payload: SwarmEvents[K]) => void): () => void
}
