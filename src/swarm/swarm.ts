/**
 * The content swarm: any song from every peer that has it, verified,
 * streamable. This file is the shell that wires the pieces together — the
 * serving side (upload.ts), one `Download` per song being fetched
 * (download.ts), provider discovery (DHT, PEX, named peers), rate caps and
 * the bans list — and owns their start/stop lifecycle.
 */
import { fstatSync, readSync } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { join } from 'node:path'
import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { type Manifest, parseCid, pieceLength } from '../library/content-id.ts'
import type { Library } from '../library/types.ts'
import type { TuttiLibp2p } from '../net/libp2p.ts'
import type { Clock } from '../shared/clock.ts'
import { TypedEmitter } from '../shared/events.ts'
import { log } from '../shared/logger.ts'
import { type BanList, loadBanList } from './bans.ts'
import { createBitfield, fullBitfield, hasPiece, setPiece } from './bitfield.ts'
import { RECHOKE_INTERVAL_MS } from './choker.ts'
import { Download } from './download.ts'
import { DownloadNotFoundError, ManifestPendingError, SwarmStoppedError } from './errors.ts'
import { warmUpNaming } from './naming.ts'
import { readDownloadRange, readSongRange } from './read.ts'
import { listStoredDownloads } from './resume.ts'
import { MAX_PEX_PEERS, type PexPeer, SWARM_PROTOCOL, warmUpWire } from './schema.ts'
import { TokenBucket } from './token-bucket.ts'
import type { DownloadInfo, Swarm, SwarmEvents } from './types.ts'
import { type ServedSong, Uploads } from './upload.ts'
import { pieceVerifies } from './verify.ts'

const logger = log('swarm')
const PEX_CACHE_MS = 5_000
/** How long a hello for a song we are still finding waits for our manifest (the asker gives up after 10 s). */
const HELLO_WAITS_FOR_MANIFEST_MS = 8_000
export const DEFAULT_MAX_PEERS = 20
export const DEFAULT_MAX_REQUESTS = 256

export interface SwarmInit {
  dataDir: string
  /** Where finished songs are moved before joining the library. Default `<dataDir>/music`. */
  downloadDir?: string
  /** Upload cap, bytes/s (default: none). */
  uploadRateBytes?: number
  /** Download cap, bytes/s (default: none). */
  downloadRateBytes?: number
  /** Peers per download (default 20). */
  maxPeers?: number
  /** Outstanding piece requests across all downloads (default 256). */
  maxRequests?: number
  /** Regular upload slots (twice as many while seeding only); one optimistic slot comes on top. 0 = serve nobody. Default 4. */
  uploadSlots?: number
  /** Announce songs in the DHT (default true). */
  dht?: boolean
  /** A download with no connected provider for this long fails with `NoProvidersError` (ms, default 120 000). */
  providerTimeoutMs?: number
}

export interface SwarmComponents {
  libp2p: TuttiLibp2p
  library: Library
  clock: Clock
  /**
   * Share settings, by file path (the node wires `mayShare` from src/search/share.ts).
   * Default: every song to anyone. Partial downloads ask with a path in the download folder.
   */
  sharing?: SwarmSharing
}

export interface SwarmSharing {
  /** May `peerId` fetch the song at `path`? A refused peer is answered as if we did not have it. */
  mayServe(peerId: string, path: string): boolean
  /** Is the song at `path` announced in the DHT (shared with everyone)? */
  announce(path: string): boolean
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export function createSwarm(init: SwarmInit, components: SwarmComponents): Swarm {
  const { libp2p, library, clock } = components
  const sharing = components.sharing ?? { mayServe: () => true, announce: () => true }
  const downloadDir = init.downloadDir ?? join(init.dataDir, 'music')
  /** Where a partial download will land: its share scope is that of the download folder. */
  const partialPath = (cid: string): string => join(downloadDir, cid)
  const events = new TypedEmitter<SwarmEvents>()
  const downloads = new Map<string, Download>()
  const requests = { inFlight: 0, max: init.maxRequests ?? DEFAULT_MAX_REQUESTS }
  const uploadBucket = new TokenBucket(init.uploadRateBytes ?? 0)
  const downloadBucket = new TokenBucket(init.downloadRateBytes ?? 0)
  const salt = Math.floor(Math.random() * 2 ** 31)
  const useDht = init.dht ?? true
  const provided = new Set<string>()
  let bans: BanList | undefined
  let running = false
  let lifetime = new AbortController()
  let unsubscribe: (() => void) | undefined

  const uploads = new Uploads({
    clock,
    bucket: uploadBucket,
    slots: () => init.uploadSlots ?? 4,
    lookup: async (cid, peer) => servedSong(cid, peer),
    isBanned: (peer, cid) =>
      (cid === undefined ? bans?.isBanned(peer) : bans?.isBannedFor(peer, cid)) === true,
    rateFromPeer: (peer) => {
      let rate = 0
      for (const d of downloads.values()) rate += d.rateFrom(peer)
      return rate
    },
    peerHas: (peer, cid, piece) => downloads.get(cid)?.peerHas(peer, piece) === true,
    pexPeers,
    sleep,
    onSession: (peer, cid) => {
      const d = downloads.get(cid)
      if (d !== undefined && (d.state === 'downloading' || d.state === 'finding')) d.addCandidate(peer, [])
    },
  })

  /**
   * Library files stay open while peers fetch from them (one handle per file,
   * closed when idle). A piece is hashed before it first leaves and then
   * remembered as verified until the file changes on disk (size, mtime or
   * inode, checked with an fstat per read), so a seeder does not re-hash the
   * same piece for every peer.
   */
  interface OpenFile {
    fh: Promise<FileHandle>
    timer: NodeJS.Timeout | undefined
    stamp: string
    verified: Uint8Array
  }
  const openFiles = new Map<string, OpenFile>()
  async function readLibraryPiece(
    path: string,
    manifest: Manifest,
    index: number,
  ): Promise<Uint8Array | undefined> {
    let entry = openFiles.get(path)
    if (entry === undefined) {
      entry = { fh: open(path, 'r'), timer: undefined, stamp: '', verified: new Uint8Array(0) }
      openFiles.set(path, entry)
      entry.fh.catch(() => openFiles.delete(path))
    }
    if (entry.timer !== undefined) clearTimeout(entry.timer)
    const current = entry
    current.timer = setTimeout(() => {
      openFiles.delete(path)
      void current.fh.then((fh) => fh.close()).catch(() => {})
    }, 10_000)
    current.timer.unref()
    const fh = await current.fh
    const st = fstatSync(fh.fd)
    const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`
    if (stamp !== current.stamp) {
      current.stamp = stamp
      current.verified = createBitfield(Math.ceil(manifest.size / manifest.pieceSize))
    }
    const buf = Buffer.allocUnsafeSlow(pieceLength(manifest, index))
    // Synchronous on purpose: see store.ts (the thread pool is the bottleneck, not the copy).
    const n = readSync(fh.fd, buf, 0, buf.byteLength, index * manifest.pieceSize)
    if (n !== buf.byteLength) return undefined
    if (hasPiece(current.verified, index)) return buf
    if (!pieceVerifies(manifest, index, buf)) return undefined
    setPiece(current.verified, index)
    return buf
  }

  async function servedSong(cid: string, peer: string): Promise<ServedSong | undefined> {
    const song = library.get(cid)
    const manifest = library.manifest(cid)
    // The library's one path for a cid decides (another copy elsewhere is not consulted).
    if (song !== undefined && !sharing.mayServe(peer, song.path)) return
    if (song !== undefined && manifest !== undefined) {
      const pieces = Math.ceil(manifest.size / manifest.pieceSize)
      return {
        cid,
        manifest,
        have: fullBitfield(pieces),
        complete: true,
        readPiece: (index) => readLibraryPiece(song.path, manifest, index),
      }
    }
    const d = downloads.get(cid)
    const mayServePartial = sharing.mayServe(peer, partialPath(cid))
    if (d !== undefined && d.store === undefined && d.state === 'finding' && mayServePartial) {
      // Leechers that start together say hello before any has the manifest. Answered `unknown`, the
      // asker would not try us again for seconds (bench:swarm: N = 9 traded nothing for 5 s); the
      // hello waits for our manifest instead, and we answer with an empty bitfield and haves to come.
      await d.waitForManifest(AbortSignal.timeout(HELLO_WAITS_FOR_MANIFEST_MS)).catch(() => {})
    }
    const store = d?.store
    if (
      !mayServePartial ||
      d === undefined ||
      store === undefined ||
      d.manifest === undefined ||
      d.state === 'cancelled' ||
      d.state === 'failed'
    )
      return
    return {
      cid,
      manifest: d.manifest,
      have: store.have,
      complete: store.isComplete(),
      // Only verified pieces are ever stored.
      readPiece: (index) => store.readPiece(index),
    }
  }

  /**
   * Peers of a song worth telling others about: those fetching it from us and
   * those we fetch it from, with the addresses we know for them. Rebuilt when
   * that set of peers changes (a newcomer must reach the others at once), and
   * otherwise at most once per `PEX_CACHE_MS` per song (peer-store reads are not
   * cheap); shared by every session that asks. A peer whose addresses we do not
   * know yet (identify still running) is left out, and the list is not reused.
   */
  interface PexList {
    peers: PexPeer[]
    /** False when a peer was left out for want of addresses: build the list again next time. */
    complete: boolean
  }
  const pexCache = new Map<string, { at: number; key: string; peers: Promise<PexList> }>()
  async function pexPeers(cid: string, except: string): Promise<PexPeer[]> {
    const now = clock.now()
    const ids = new Set<string>(uploads.sessionsFor(cid))
    for (const id of downloads.get(cid)?.linkedPeers() ?? []) ids.add(id)
    const key = [...ids].sort().join(' ')
    let cached = pexCache.get(cid)
    if (
      cached === undefined ||
      cached.key !== key ||
      now - cached.at >= PEX_CACHE_MS ||
      !(await cached.peers).complete
    ) {
      cached = { at: now, key, peers: collectPexPeers(ids) }
      pexCache.set(cid, cached)
    }
    return (await cached.peers).peers.filter((p) => p.id !== except).slice(0, MAX_PEX_PEERS)
  }

  async function collectPexPeers(ids: Set<string>): Promise<PexList> {
    const peers: PexPeer[] = []
    let complete = true
    for (const id of ids) {
      if (peers.length > MAX_PEX_PEERS) break
      try {
        const peer = await libp2p.peerStore.get(peerIdFromString(id))
        const addrs = peer.addresses.map((a) => a.multiaddr.toString()).slice(0, 8)
        if (addrs.length > 0) peers.push({ id, addrs })
        else complete = false
      } catch {
        complete = false
      }
    }
    return { peers, complete }
  }

  /**
   * Announce `cid` (a song at `path`) in the DHT, when it is shared with
   * everyone; retried with backoff while nobody is there to hold the record yet.
   */
  function provide(cid: string, path: string, attempt = 0): void {
    if (!useDht || !running || (attempt === 0 && (provided.has(cid) || !sharing.announce(path)))) return
    provided.add(cid)
    libp2p.contentRouting
      .provide(CID.parse(cid), { signal: AbortSignal.any([lifetime.signal, AbortSignal.timeout(60_000)]) })
      .then(() => events.emit('song:provided', { cid }))
      .catch((err: Error) => {
        logger('providing %s failed: %s', cid, err.message)
        if (!running) return
        const timer = setTimeout(
          () => provide(cid, path, attempt + 1),
          Math.min(60_000, 2_000 * 2 ** attempt),
        )
        timer.unref()
        lifetime.signal.addEventListener('abort', () => clearTimeout(timer), { once: true })
      })
  }

  async function* findProviders(
    cid: string,
    signal: AbortSignal,
  ): AsyncIterable<{ id: string; addrs: Multiaddr[] }> {
    if (!useDht) return
    for await (const p of libp2p.contentRouting.findProviders(CID.parse(cid), { signal })) {
      yield { id: p.id.toString(), addrs: p.multiaddrs }
    }
  }

  function newDownload(cid: string): Download {
    if (bans === undefined) throw new SwarmStoppedError()
    return new Download(cid, {
      libp2p,
      clock,
      library,
      dataDir: init.dataDir,
      downloadDir,
      bans,
      downloadBucket,
      maxPeers: init.maxPeers ?? DEFAULT_MAX_PEERS,
      providerTimeoutMs: init.providerTimeoutMs ?? 120_000,
      requests,
      salt,
      emit: (type, payload) => events.emit(type, payload),
      onPiece: (c, piece) => {
        uploads.announceHave(c, piece)
        // Once per song, not per piece (the path join alone was 1 % of an uncapped leecher's time).
        if (useDht && !provided.has(c)) provide(c, partialPath(c))
      },
      findProviders,
      sleep,
    })
  }

  function requireDownload(cid: string): Download {
    const d = downloads.get(cid)
    if (d === undefined) throw new DownloadNotFoundError(cid)
    return d
  }

  /** A song the library already holds, as a finished download (nothing to fetch). */
  function libraryInfo(cid: string): DownloadInfo | undefined {
    const song = library.get(cid)
    if (song === undefined) return undefined
    const manifest = library.manifest(cid)
    const pieces = manifest === undefined ? undefined : Math.ceil(manifest.size / manifest.pieceSize)
    return {
      cid,
      state: 'done',
      percent: 100,
      size: song.size,
      bytesDone: song.size,
      pieces,
      piecesDone: pieces ?? 0,
      rateBps: 0,
      peers: 0,
      sources: [],
      path: song.path,
      banned: [],
    }
  }

  function startDownload(cid: string, options: { providers?: string[] } = {}): DownloadInfo {
    if (!running) throw new SwarmStoppedError()
    parseCid(cid)
    let d = downloads.get(cid)
    if (d === undefined || d.state === 'cancelled' || d.state === 'failed') {
      // Already in the library: done at once (a Download that never starts would hang its waiters).
      const have = libraryInfo(cid)
      if (have !== undefined) return have
      d = newDownload(cid)
      downloads.set(cid, d)
      const created = d
      void created.start().catch((err: Error) => logger('starting download of %s: %s', cid, err.message))
    }
    if (options.providers !== undefined) d.addProviders(options.providers)
    return d.info()
  }

  async function download(cid: string, options: { providers?: string[]; signal?: AbortSignal } = {}) {
    if (!downloads.has(cid)) {
      const have = libraryInfo(cid)
      if (have !== undefined) return have
    }
    startDownload(cid, options)
    const d = requireDownload(cid)
    if (options.signal === undefined) return d.done
    const signal = options.signal
    return await new Promise<DownloadInfo>((resolve, reject) => {
      const onAbort = (): void => {
        void d.cancel()
        reject(signal.reason)
      }
      if (signal.aborted) return onAbort()
      signal.addEventListener('abort', onAbort, { once: true })
      d.done.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }

  function stat(cid: string): { size: number; mime: string } | undefined {
    const song = library.get(cid)
    if (song !== undefined) return { size: song.size, mime: song.mime }
    const d = downloads.get(cid)
    if (d === undefined || d.state === 'cancelled') return undefined
    // Being fetched, size not known yet: a retryable answer, not "no such song".
    if (d.manifest === undefined) {
      if (d.state === 'failed') return undefined
      throw new ManifestPendingError(cid)
    }
    return { size: d.manifest.size, mime: d.mime }
  }

  async function waitForStat(
    cid: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ size: number; mime: string } | undefined> {
    for (;;) {
      try {
        return stat(cid)
      } catch (err) {
        if (!(err instanceof ManifestPendingError)) throw err
      }
      const d = downloads.get(cid)
      if (d === undefined) return undefined
      try {
        await d.waitForManifest(options.signal)
      } catch {
        options.signal?.throwIfAborted()
        return undefined // cancelled or failed before its manifest came
      }
    }
  }

  async function* read(
    cid: string,
    start: number,
    endInclusive: number,
    options: { signal?: AbortSignal; providers?: string[] } = {},
  ): AsyncIterable<Uint8Array> {
    const song = library.get(cid)
    if (song !== undefined) {
      yield* readSongRange(song.path, start, endInclusive, options.signal)
      return
    }
    startDownload(cid, { providers: options.providers })
    const d = requireDownload(cid)
    if (d.state === 'paused') d.resume()
    yield* readDownloadRange(d, start, endInclusive, options.signal)
  }

  const swarm: Swarm = {
    async start() {
      if (running) return
      running = true
      lifetime = new AbortController()
      warmUpWire()
      void warmUpNaming()
      bans = await loadBanList(join(init.dataDir, 'swarm-bans.json'))
      await libp2p.handle(
        SWARM_PROTOCOL,
        (stream: Stream, connection: Connection) => uploads.handle(stream, connection),
        { maxInboundStreams: 256, maxOutboundStreams: 256 },
      )
      const timer = setInterval(() => uploads.rechoke(true), RECHOKE_INTERVAL_MS)
      lifetime.signal.addEventListener('abort', () => clearInterval(timer))
      for (const song of library.list()) provide(song.cid, song.path)
      unsubscribe = library.on('song:added', (s) => provide(s.cid, s.path))
      for (const stored of await listStoredDownloads(init.dataDir)) {
        if (downloads.has(stored.cid)) continue
        const d = newDownload(stored.cid)
        downloads.set(stored.cid, d)
        void d.start(stored.paused).catch((err: Error) => logger('resuming %s: %s', stored.cid, err.message))
      }
    },
    async stop() {
      if (!running) return
      running = false
      lifetime.abort()
      unsubscribe?.()
      await libp2p.unhandle(SWARM_PROTOCOL).catch(() => {})
      uploads.closeAll()
      for (const [path, entry] of openFiles) {
        openFiles.delete(path)
        if (entry.timer !== undefined) clearTimeout(entry.timer)
        void entry.fh.then((fh) => fh.close()).catch(() => {})
      }
      await Promise.all([...downloads.values()].map((d) => d.close()))
      downloads.clear()
      provided.clear()
      pexCache.clear()
    },
    download,
    startDownload,
    pause: (cid) => {
      const d = requireDownload(cid)
      d.pause()
      return d.info()
    },
    resume: (cid) => {
      const d = requireDownload(cid)
      d.resume()
      return d.info()
    },
    async cancel(cid) {
      await requireDownload(cid).cancel()
      downloads.delete(cid)
    },
    list: () => [...downloads.values()].map((d) => d.info()),
    get: (cid) => downloads.get(cid)?.info() ?? libraryInfo(cid),
    read,
    stat,
    waitForStat,
    load: () => uploads.load(),
    activeUploads: () => uploads.load(),
    songSource: () => ({
      stat,
      read: (cid, start, end, signal) => read(cid, start, end, { signal }),
    }),
    on: (type, listener) => events.on(type, listener),
  }
  return swarm
}
