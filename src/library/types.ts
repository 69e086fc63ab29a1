/** The library's public contract: what other modules (swarm, api, search, party) may rely on. */
import type { Manifest } from './content-id.ts'

export type AudioFormat = 'mp3' | 'flac' | 'ogg' | 'opus' | 'm4a' | 'aac' | 'wav'

export interface Song {
  /** Content id (CIDv1 dag-cbor over the manifest); see content-id.ts. */
  cid: string
  path: string
  size: number
  mtimeMs: number
  format: AudioFormat
  mime: string
  title: string
  artist: string
  album: string
  durationSec: number
  sampleRate?: number
  channels?: number
}

/** A file the scan could not index, with a human reason. */
export interface RejectedFile {
  path: string
  reason: string
}

export interface ScanProgress {
  filesDone: number
  filesTotal: number
  bytesHashed: number
}

export interface LibraryEvents extends Record<string, unknown> {
  'song:added': Song
  'song:removed': { cid: string; path: string }
  'scan:progress': ScanProgress
  /**
   * A scan (full, or of the paths the watcher reported) finished. `hashedFiles`
   * counts files read and hashed by this scan: unchanged files are never hashed again.
   */
  'scan:done': {
    songs: number
    rejected: number
    hashedFiles: number
    ms: number
    bytesHashed: number
    full: boolean
  }
  /** A file was found that cannot be indexed; `rejected()` lists them all. */
  'file:rejected': RejectedFile
}

export interface Library {
  start(): Promise<void>
  stop(): Promise<void>
  /** Re-scan all folders; unchanged files (same size and mtime) are not hashed again. */
  rescan(options?: { signal?: AbortSignal }): Promise<void>
  list(): Song[]
  get(cid: string): Song | undefined
  manifest(cid: string): Manifest | undefined
  rejected(): RejectedFile[]
  /** Adds a file that arrived by swarm (already verified); returns its Song. */
  addVerifiedFile(path: string, cid: string, manifest: Manifest): Promise<Song>
  on<K extends keyof LibraryEvents>(type: K, listener: (payload: LibraryEvents[K]) => void): () => void
}
