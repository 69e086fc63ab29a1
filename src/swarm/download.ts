/**
 * One song being fetched: finds providers, keeps a stream to each (the client
 * side of `/tutti/swarm/1.0.0`), asks the pure picker what to request next,
 * verifies every piece, stores it, and finally checks the whole song against
 * its CID and hands it to the library.
 */
import { access, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'
import { type Manifest, manifestMatches, PIECE_SIZE, pieceCount, pieceLength } from '../library/content-id.ts'
import type { Library } from '../library/types.ts'
import { WireError } from '../net/framed.ts'
import type { TuttiLibp2p } from '../net/libp2p.ts'
import type { Clock } from '../shared/clock.ts'
import { log } from '../shared/logger.ts'
import type { BanList } from './bans.ts'
import { hasPiece, isValidBitfield, setPiece } from './bitfield.ts'
import { DownloadCancelledError, explainWriteError, NoProvidersError } from './errors.ts'
import { probeSongName, songFileName } from './naming.ts'
import { estimateDeliveryMs, type PeerView, pickRequests, pipelineDepth } from './picker.ts'
import { DeliveryRate, RateMeter } from './rate.ts'
import { PAUSED_MARKER } from './resume.ts'
import { type ClientMessage, type ServerMessage, SWARM_PROTOCOL } from './schema.ts'
import { sniffAudio } from './sniff.ts'
import { downloadDir, openPieceStore, type PieceStore, readStoredManifest } from './store.ts'
import type { TokenBucket } from './token-bucket.ts'
import type { DownloadInfo, DownloadSource, DownloadState, SwarmEvents } from './types.ts'
import { pieceVerifies } from './verify.ts'
import { clientWire, type SwarmWire } from './wire.ts'

const logger = log('swarm:download')
/** Pieces ahead of a streaming read position that count as critical. */
export const CRITICAL_WINDOW = 8
/** Requests kept at a peer when a critical piece needs the head of its queue (the oldest: likely on the wire already). */
const KEEP_FOR_CRITICAL = 1
/**
 * After the last reader closes, how long no piece that nobody reads is
 * requested. A player reads a file in steps (its head, then its tail for the
 * length, then the pages at the position): a request made between two steps
 * goes out ahead of the next step's piece, and behind a slow uplink each such
 * piece holds the next step up by a piece's transfer time (1.3 s at 48 KiB/s).
 */
export const READER_GAP_MS = 250
const HOUSEKEEPING_MS = 500
const PROGRESS_EVERY_MS = 250
const DIAL_TIMEOUT_MS = 10_000
const REDIAL_BACKOFF_MS = 5_000
const DHT_QUERY_MS = 15_000
/**
 * A new libp2p connection costs ~0.3 s of CPU (noise handshake, identify,
 * peer-store writes) on both ends. Dialling every provider at once makes them
 * all compete, so the first useful link comes last; a few at a time gets the
 * first ones (the list's order: party host first) up quickly.
 */
const MAX_NEW_CONNECTIONS = 4
/**
 * Two leechers given each other's address dial each other at the same moment
 * and end up with two connections. The one with the larger peer id waits up
 * to this long for the other's connection (a handshake takes a few hundred ms
 * on a busy host) and then uses it. The first provider the caller names (the
 * party host) is dialled at once.
 */
const DIAL_DEFER_MS = 1_000
/**
 * A peer the exchange says is dialing us (`knowsYou`) gets this long before
 * we dial it ourselves (it may be unable to: behind NAT, or our address is
 * not the one it got).
 */
const AWAIT_DIAL_MS = 2_000

export interface DownloadDeps {
  libp2p: TuttiLibp2p
  clock: Clock
  library: Library
  dataDir: string
  downloadDir: string
  bans: BanList
  downloadBucket: TokenBucket
  maxPeers: number
  /** Give up after this long without a single connected provider (ms). */
  providerTimeoutMs: number
  /** Shared across downloads: outstanding requests and their cap. */
  requests: { inFlight: number; max: number }
  salt: number
  emit<K extends keyof SwarmEvents>(type: K, payload: SwarmEvents[K]): void
  /** A verified piece is stored (announce it, provide the song). */
  onPiece(cid: string, piece: number): void
  findProviders(cid: string, signal: AbortSignal): AsyncIterable<{ id: string; addrs: Multiaddr[] }>
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

class PeerLink {
  readonly id: string
  readonly wire: SwarmWire<ServerMessage, ClientMessage>
  has: Uint8Array | undefined
  choked = true
  load = 0
  interested = true
  readonly inFlight = new Map<number, number>()
  readonly received = new RateMeter()
  readonly delivery = new DeliveryRate()
  /**
   * Round trip, from above: the quickest exchange so far (the hello and its
   * handshake, then any piece from request to arrival). No ping stream of its
   * own: one stream per link is less set-up work when a swarm starts.
   */
  rttMs: number | undefined
  /** Smoothed time from request to arrival (includes queueing at the peer). */
  latencyMs: number | undefined
  bytes = 0
  closed = false

  constructor(id: string, wire: SwarmWire<ServerMessage, ClientMessage>) {
    this.id = id
    this.wire = wire
  }

  /** Queued; everything sent to this peer in one tick leaves in one frame batch. */
  send(message: ClientMessage): void {
    try {
      this.wire.send(message)
    } catch {}
  }
}

interface Reader {
  piece: number
  /** Last piece the read wants (a short read — a file's head — marks no more than it needs). */
  last: number
}

export class Download {
  readonly cid: string
  state: DownloadState = 'finding'
  manifest: Manifest | undefined
  store: PieceStore | undefined
  path: string | undefined
  error: string | undefined
  mime = 'application/octet-stream'
  readonly #deps: DownloadDeps
  readonly #links = new Map<string, PeerLink>()
  readonly #candidates = new Map<string, Multiaddr[]>()
  /** Providers to dial without deferring (the first one the caller named). */
  readonly #urgent = new Set<string>()
  /** Who dials, where a peer exchange said so (`knowsYou`): `dial` we do at once, `await` the peer does. */
  readonly #dialOrder = new Map<string, 'dial' | 'await'>()
  /**
   * Settles when the link to the urgent provider has its handshake (or
   * failed). Until then, while we lack the manifest, other links wait: the
   * first one should not share a starting node's CPU with eight more, and a
   * hello to a peer that lacks the manifest itself only waits at that peer.
   */
  #urgentLink: Promise<void> | undefined
  readonly #dialing = new Set<string>()
  readonly #lastDial = new Map<string, number>()
  readonly #songBans = new Set<string>()
  readonly #requested = new Map<number, Set<string>>()
  readonly #readers = new Set<Reader>()
  /** Until then no unread piece is requested: the last reader closed just now (`READER_GAP_MS`). */
  #readerGapUntil = Number.NEGATIVE_INFINITY
  readonly #waiters = new Map<number, Set<() => void>>()
  readonly #manifestWaiters = new Set<() => void>()
  readonly #rate = new RateMeter(3_000)
  #availability: Int32Array = new Int32Array(0)
  #active: AbortController | undefined
  #lifetime = new AbortController()
  #pickTimer: NodeJS.Timeout | undefined
  #pickQueued = false
  /** New connections being set up, and dials waiting for a turn. */
  #newConnections = 0
  readonly #connectionTurns: Array<() => void> = []
  #lastProgress = 0
  /** When the download last had a connected provider (or was (re)activated). */
  #lastProvider = 0
  /** Pause-marker writes, in order (pause and resume may follow each other quickly). */
  #marker: Promise<void> = Promise.resolve()
  /** Why the download failed, for readers waiting on it. */
  #failure: Error | undefined
  readonly #done = Promise.withResolvers<DownloadInfo>()

  constructor(cid: string, deps: DownloadDeps) {
    this.cid = cid
    this.#deps = deps
    this.#done.promise.catch(() => {})
  }

  get done(): Promise<DownloadInfo> {
    return this.#done.promise
  }

  /** Open a partial download left on disk (resume), then start fetching unless paused. */
  async start(paused = false): Promise<void> {
    // Paused from the first moment: the list must not show it as finding while the store opens.
    if (paused) this.state = 'paused'
    const dir = downloadDir(this.#deps.dataDir, this.cid)
    const stored = await readStoredManifest(dir)
    if (stored !== undefined && (await manifestMatches(this.cid, stored))) await this.#adoptManifest(stored)
    // (A resume() while the store was opening has already activated it.)
    if (paused) {
      this.#progress(true)
      return
    }
    this.#activate()
  }

  addProviders(providers: string[]): void {
    for (const [i, text] of providers.entries()) {
      try {
        if (text.startsWith('/')) {
          const addr = multiaddr(text)
          const id = addr.getComponents().findLast((c) => c.name === 'p2p')?.value
          if (id === undefined) continue
          if (i === 0) this.#urgent.add(id)
          this.addCandidate(id, [addr])
        } else {
          const id = peerIdFromString(text).toString()
          if (i === 0) this.#urgent.add(id)
          this.addCandidate(id, [])
        }
      } catch (err) {
        logger('ignoring provider %s: %s', text, (err as Error).message)
      }
    }
  }

  addCandidate(id: string, addrs: Multiaddr[], knowsUs?: boolean): void {
    if (id === this.#deps.libp2p.peerId.toString()) return
    if (knowsUs !== undefined) this.#dialOrder.set(id, knowsUs ? 'await' : 'dial')
    const known = this.#candidates.get(id) ?? []
    this.#candidates.set(id, [...known, ...addrs].slice(-8))
    this.#connectMore()
  }

  pause(): void {
    if (this.state !== 'finding' && this.state !== 'downloading') return
    this.state = 'paused'
    this.#deactivate()
    void this.store?.flush().catch(() => {})
    this.#setPausedMarker(true)
    this.#progress(true)
  }

  resume(): void {
    if (this.state !== 'paused') return
    // The links were closed by pause, not by failure: no redial backoff.
    this.#lastDial.clear()
    this.#setPausedMarker(false)
    this.#activate()
  }

  /** Paused survives a restart: a marker file in the download's directory. */
  #setPausedMarker(paused: boolean): void {
    const dir = downloadDir(this.#deps.dataDir, this.cid)
    const path = join(dir, PAUSED_MARKER)
    this.#marker = this.#marker
      .then(async () => {
        if (this.state === 'cancelled') return
        if (paused) {
          await mkdir(dir, { recursive: true })
          await writeFile(path, '')
        } else {
          await rm(path, { force: true })
        }
      })
      .catch((err: Error) => logger('pause marker for %s: %s', this.cid, err.message))
  }

  async cancel(): Promise<void> {
    if (this.state === 'done' || this.state === 'cancelled') return
    this.state = 'cancelled'
    this.#deactivate()
    this.#lifetime.abort()
    // Readers and size waiters without a signal of their own would otherwise wait forever.
    this.#wakeEveryWaiter()
    await this.#marker
    await this.store?.destroy()
    // A paused download may have a directory (its pause marker) and no store yet.
    await rm(downloadDir(this.#deps.dataDir, this.cid), { recursive: true, force: true }).catch(() => {})
    this.#done.reject(new DownloadCancelledError(this.cid))
    this.#progress(true)
  }

  /** Stop without deleting anything (node shutdown); the download resumes on the next start. */
  async close(): Promise<void> {
    this.#deactivate()
    this.#lifetime.abort()
    await this.#marker
    await this.store?.close()
  }

  // ---- streaming reads ----

  /** Resolves once the manifest is known and the piece store open. */
  async waitForManifest(signal?: AbortSignal): Promise<Manifest> {
    while (this.manifest === undefined || this.store === undefined) {
      if (this.state === 'cancelled' || this.state === 'failed')
        throw this.#failure ?? new DownloadCancelledError(this.cid)
      await this.#wait(this.#manifestWaiters, signal)
    }
    return this.manifest
  }

  /** Register a reader at `piece`: it and the next `CRITICAL_WINDOW` pieces (up to `last`) go first. */
  openReader(piece: number, last = Number.POSITIVE_INFINITY): Reader {
    const reader = { piece, last }
    this.#readers.add(reader)
    this.#schedule()
    return reader
  }

  closeReader(reader: Reader): void {
    this.#readers.delete(reader)
    if (this.#readers.size === 0) this.#readerGapUntil = this.#deps.clock.now() + READER_GAP_MS
  }

  moveReader(reader: Reader, piece: number): void {
    reader.piece = piece
    this.#schedule()
  }

  async waitForPiece(piece: number, signal?: AbortSignal): Promise<void> {
    let set = this.#waiters.get(piece)
    while (this.store === undefined || !hasPiece(this.store.have, piece)) {
      if (this.state === 'cancelled' || this.state === 'failed')
        throw this.#failure ?? new DownloadCancelledError(this.cid)
      if (set === undefined) {
        set = new Set()
        this.#waiters.set(piece, set)
      }
      await this.#wait(set, signal)
    }
  }

  #wait(set: Set<() => void>, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        set.delete(done)
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = (): void => {
        set.delete(done)
        reject(signal?.reason ?? new Error('aborted'))
      }
      if (signal?.aborted) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
      set.add(done)
    })
  }

  #wakeAll(set: Set<() => void> | undefined): void {
    for (const fn of [...(set ?? [])]) fn()
  }

  /** The download ended (done, failed or cancelled): every waiter looks again and returns or throws. */
  #wakeEveryWaiter(): void {
    this.#wakeAll(this.#manifestWaiters)
    for (const set of this.#waiters.values()) this.#wakeAll(set)
  }

  // ---- info ----

  /** Bytes/s `peer` currently delivers to us for this song. */
  rateFrom(peer: string): number {
    return this.#links.get(peer)?.received.rate(this.#deps.clock.now()) ?? 0
  }

  /** The peers we have a link to for this song. */
  linkedPeers(): string[] {
    return [...this.#links.keys()]
  }

  /** True when `peer` told us it has `piece`. */
  peerHas(peer: string, piece: number): boolean {
    const has = this.#links.get(peer)?.has
    return has !== undefined && hasPiece(has, piece)
  }

  info(): DownloadInfo {
    const now = this.#deps.clock.now()
    const m = this.manifest
    const pieces = m === undefined ? undefined : pieceCount(m.size, m.pieceSize)
    const piecesDone = this.store?.count() ?? 0
    let bytesDone = 0
    if (m !== undefined && this.store !== undefined) {
      bytesDone = piecesDone * m.pieceSize
      const last = (pieces ?? 1) - 1
      if (hasPiece(this.store.have, last)) bytesDone -= m.pieceSize - pieceLength(m, last)
    }
    const rateBps = this.#rate.rate(now)
    const remaining = m === undefined ? undefined : m.size - bytesDone
    const sources: DownloadSource[] = [...this.#links.values()]
      .map((l) => ({
        peerId: l.id,
        bytes: l.bytes,
        rateBps: Math.round(l.received.rate(now)),
        rttMs: l.rttMs,
        load: l.load,
        choked: l.choked,
      }))
      .sort((a, b) => b.rateBps - a.rateBps)
    return {
      cid: this.cid,
      state: this.state,
      percent: m === undefined ? 0 : m.size === 0 ? 100 : Math.min(100, (bytesDone / m.size) * 100),
      size: m?.size,
      bytesDone,
      piecesDone,
      pieces,
      rateBps: Math.round(rateBps),
      etaSec: remaining !== undefined && rateBps > 1 ? remaining / rateBps : undefined,
      peers: this.#links.size,
      sources,
      path: this.path,
      error: this.error,
      banned: [...this.#songBans],
    }
  }

  #progress(force = false): void {
    const now = this.#deps.clock.now()
    if (!force && now - this.#lastProgress < PROGRESS_EVERY_MS) return
    this.#lastProgress = now
    this.#deps.emit('download:progress', this.info())
  }

  // ---- lifecycle ----

  #activate(): void {
    if (this.store?.isComplete() === true) {
      void this.#finish()
      return
    }
    this.state = this.manifest === undefined ? 'finding' : 'downloading'
    this.#lastProvider = this.#deps.clock.now()
    const active = new AbortController()
    this.#active = active
    void this.#discover(active.signal)
    void this.#housekeeping(active.signal)
    this.#connectMore()
    this.#progress(true)
  }

  #deactivate(): void {
    this.#active?.abort()
    this.#active = undefined
    for (const next of this.#connectionTurns.splice(0)) next()
    if (this.#pickTimer !== undefined) clearTimeout(this.#pickTimer)
    this.#pickTimer = undefined
    for (const link of [...this.#links.values()]) this.#closeLink(link)
  }

  get #running(): boolean {
    return this.#active !== undefined && !this.#active.signal.aborted
  }

  async #adoptManifest(manifest: Manifest): Promise<void> {
    if (this.manifest !== undefined) return
    this.manifest = manifest
    this.#availability = new Int32Array(pieceCount(manifest.size, manifest.pieceSize))
    const dir = downloadDir(this.#deps.dataDir, this.cid)
    try {
      this.store = await openPieceStore(dir, this.cid, manifest)
    } catch (err) {
      void this.#giveUp(explainWriteError(err, this.cid, dir))
      throw err
    }
    if (hasPiece(this.store.have, 0)) this.mime = sniffAudio(await this.store.readPiece(0)).mime
    if (this.state === 'finding') this.state = 'downloading'
    this.#wakeAll(this.#manifestWaiters)
  }

  async #discover(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (this.#links.size < this.#deps.maxPeers) {
        const query = AbortSignal.any([signal, AbortSignal.timeout(DHT_QUERY_MS)])
        try {
          for await (const p of this.#deps.findProviders(this.cid, query)) this.addCandidate(p.id, p.addrs)
        } catch (err) {
          if (!signal.aborted) logger('DHT lookup for %s: %s', this.cid, (err as Error).message)
        }
      }
      try {
        await this.#deps.sleep(this.#links.size === 0 ? 3_000 : 20_000, signal)
      } catch {
        return
      }
    }
  }

  async #housekeeping(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#deps.sleep(HOUSEKEEPING_MS, signal)
      } catch {
        return
      }
      const now = this.#deps.clock.now()
      if (this.#links.size > 0) this.#lastProvider = now
      else if (now - this.#lastProvider >= this.#deps.providerTimeoutMs) {
        void this.#giveUp(new NoProvidersError(this.cid, this.#deps.providerTimeoutMs))
        return
      }
      // A request that takes far longer than the peer's own estimate goes back in the pool.
      for (const link of this.#links.values()) {
        const view = this.#view(link)
        const limit = Math.max(5_000, 8 * estimateDeliveryMs(view, this.#pieceSize))
        for (const [piece, sentAt] of link.inFlight) {
          if (now - sentAt < limit) continue
          this.#dropRequest(link, piece, true)
          link.delivery.bps = (link.delivery.bps ?? 65536) / 2
        }
      }
      this.#connectMore()
      this.#schedule()
      this.#progress()
    }
  }

  #connectMore(): void {
    if (!this.#running) return
    const now = this.#deps.clock.now()
    for (const [id, addrs] of this.#candidates) {
      if (this.#links.size + this.#dialing.size >= this.#deps.maxPeers) return
      if (this.#links.has(id) || this.#dialing.has(id) || this.#banned(id)) continue
      if (now - (this.#lastDial.get(id) ?? Number.NEGATIVE_INFINITY) < REDIAL_BACKOFF_MS) continue
      this.#lastDial.set(id, now)
      void this.#connect(id, addrs)
    }
  }

  #banned(id: string): boolean {
    return this.#songBans.has(id) || this.#deps.bans.isBannedFor(id, this.cid)
  }

  async #connect(id: string, addrs: Multiaddr[]): Promise<void> {
    const active = this.#active
    if (active === undefined) return
    this.#dialing.add(id)
    let link: PeerLink | undefined
    const urgent =
      this.#urgent.has(id) && this.manifest === undefined ? Promise.withResolvers<void>() : undefined
    if (urgent !== undefined) this.#urgentLink = urgent.promise
    try {
      const peerId: PeerId = peerIdFromString(id)
      const stream = await this.#openStream(peerId, addrs, active.signal)
      const signal = AbortSignal.any([active.signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)])
      const wire = clientWire(stream)
      link = new PeerLink(id, wire)
      const helloAt = this.#deps.clock.now()
      wire.send({ t: 'hello', cid: this.cid, wantManifest: this.manifest === undefined })
      const first = await wire.read({ signal })
      link.rttMs = this.#deps.clock.now() - helloAt
      if (first === undefined || first.t === 'unknown') {
        await wire.close()
        return
      }
      if (first.t !== 'handshake') throw new WireError(`expected handshake, got ${first.t}`)
      if (this.manifest === undefined) {
        if (first.manifest === undefined) throw new WireError('handshake without the manifest we asked for')
        if (!(await manifestMatches(this.cid, first.manifest))) {
          await this.#punish(link, 'manifest does not match the song id')
          return
        }
        await this.#adoptManifest(first.manifest)
      }
      if (!this.#running || this.#links.has(id)) {
        await wire.close()
        return
      }
      const pieces = this.#availability.length
      if (!isValidBitfield(first.have, pieces)) throw new WireError('bitfield of the wrong length')
      link.has = first.have.slice()
      link.load = first.load
      link.choked = first.choked
      for (let i = 0; i < pieces; i++) if (hasPiece(link.has, i)) this.#availability[i]++
      this.#links.set(id, link)
      this.#dialing.delete(id)
      urgent?.resolve()
      this.#updateInterest(link)
      this.#schedule()
      this.#progress(true)
      const current = link
      const onAbort = (): void => current.wire.abort(new Error('download stopped'))
      active.signal.addEventListener('abort', onAbort, { once: true })
      try {
        await wire.onMessage((message) => {
          if (!current.closed) this.#onMessage(current, message)
        })
      } finally {
        active.signal.removeEventListener('abort', onAbort)
      }
    } catch (err) {
      if (!active.signal.aborted) logger('link to %s for %s ended: %s', id, this.cid, (err as Error).message)
      if (err instanceof WireError) link?.wire.abort(err)
    } finally {
      urgent?.resolve()
      this.#dialing.delete(id)
      if (link !== undefined) this.#closeLink(link)
    }
  }

  /**
   * A swarm stream to `peerId`, over an existing connection when there is
   * one. While we lack the manifest, it waits for the link to the first named
   * provider (it has the song; the others would only slow its handshake
   * down). A new connection is left to the peer a peer exchange says is
   * dialing us, else to the peer with the smaller id, for a while; it takes
   * one of `MAX_NEW_CONNECTIONS` turns.
   */
  async #openStream(peerId: PeerId, addrs: Multiaddr[], active: AbortSignal): Promise<Stream> {
    const libp2p = this.#deps.libp2p
    const id = peerId.toString()
    const connected = (): boolean => libp2p.getConnections(peerId).length > 0
    const dial = (): Promise<Stream> =>
      libp2p.dialProtocol(peerId, SWARM_PROTOCOL, {
        signal: AbortSignal.any([active, AbortSignal.timeout(DIAL_TIMEOUT_MS)]),
        // The protocol proposal goes out with the hello (one round trip less per link; a peer
        // without the protocol fails the first read instead of the open, handled the same way).
        negotiateFully: false,
      })
    const urgent = this.#urgent.has(id)
    if (!urgent && this.manifest === undefined && this.#urgentLink !== undefined) {
      await Promise.race([
        this.#urgentLink,
        new Promise<void>((resolve) => setTimeout(resolve, DIAL_TIMEOUT_MS).unref()),
      ])
      active.throwIfAborted()
    }
    if (connected()) return dial()
    if (!urgent) {
      const order = this.#dialOrder.get(id)
      const patience =
        order === 'await'
          ? AWAIT_DIAL_MS
          : order === undefined && libp2p.peerId.toString() > id
            ? DIAL_DEFER_MS
            : 0
      for (let waited = 0; waited < patience && !connected(); waited += 50) {
        await this.#deps.sleep(50, active)
      }
    }
    let turn = false
    try {
      if (!connected()) {
        while (this.#newConnections >= MAX_NEW_CONNECTIONS) {
          await new Promise<void>((resolve) => this.#connectionTurns.push(resolve))
          active.throwIfAborted()
        }
        this.#newConnections++
        turn = true
        if (addrs.length > 0) await libp2p.peerStore.merge(peerId, { multiaddrs: addrs })
      }
      return await dial()
    } finally {
      if (turn) {
        this.#newConnections--
        this.#connectionTurns.shift()?.()
      }
    }
  }

  #onMessage(link: PeerLink, message: ServerMessage): void {
    const pieces = this.#availability.length
    switch (message.t) {
      case 'handshake':
      case 'unknown':
        throw new WireError(`unexpected ${message.t}`)
      case 'have':
      case 'haves': {
        link.load = message.load
        const list = message.t === 'have' ? [message.piece] : message.pieces
        let news = false
        for (const piece of list) {
          if (piece >= pieces) throw new WireError(`have for piece ${piece} past the end`)
          if (link.has === undefined || hasPiece(link.has, piece)) continue
          setPiece(link.has, piece)
          this.#availability[piece]++
          news = true
          if (!link.interested && this.store !== undefined && !hasPiece(this.store.have, piece)) {
            this.#updateInterest(link)
          }
        }
        // New pieces at this peer can only open requests to this peer: no pick while it chokes us
        // or our pipeline there is full (haves are most of what a leecher receives). A streaming
        // reader still gets one: a piece it waits for may be worth a queued request's place.
        const room = !link.choked && link.inFlight.size < this.#depth(link)
        if (news && (room || this.#readers.size > 0)) this.#schedule()
        return
      }
      case 'choke':
        link.choked = true
        for (const piece of [...link.inFlight.keys()]) this.#dropRequest(link, piece, false)
        this.#schedule()
        return
      case 'unchoke':
        link.choked = false
        this.#schedule()
        return
      case 'reject':
        this.#dropRequest(link, message.piece, false)
        this.#schedule()
        return
      case 'peers':
        for (const p of message.peers) {
          const addrs: Multiaddr[] = []
          for (const a of p.addrs) {
            try {
              addrs.push(multiaddr(a))
            } catch {}
          }
          try {
            this.addCandidate(peerIdFromString(p.id).toString(), addrs, p.knowsYou)
          } catch {}
        }
        return
      case 'piece':
        this.#onPiece(link, message.piece, message.data)
        return
    }
  }

  #onPiece(link: PeerLink, piece: number, data: Uint8ArrayList): void {
    const manifest = this.manifest
    const store = this.store
    const sentAt = link.inFlight.get(piece)
    // Unsolicited, or cancelled after it was already on its way: ignore it.
    if (manifest === undefined || store === undefined || sentAt === undefined) return
    this.#dropRequest(link, piece, false)
    if (!pieceVerifies(manifest, piece, data)) {
      void this.#punish(link, `piece ${piece} failed its hash`)
      return
    }
    const now = this.#deps.clock.now()
    link.delivery.arrived(data.byteLength, sentAt, now)
    const latency = now - sentAt
    link.latencyMs = link.latencyMs === undefined ? latency : 0.8 * link.latencyMs + 0.2 * latency
    link.rttMs = Math.min(link.rttMs ?? latency, latency)
    link.received.add(data.byteLength, now)
    if (hasPiece(store.have, piece)) return
    // End-game: whoever else was asked for it can stop.
    for (const other of this.#links.values()) {
      if (other !== link && other.inFlight.has(piece)) {
        other.send({ t: 'cancel', piece })
        this.#dropRequest(other, piece, false)
      }
    }
    try {
      store.writePieceSync(piece, data)
    } catch (err) {
      // Nothing was marked as stored; every earlier piece stays on disk for a resume.
      void this.#giveUp(explainWriteError(err, this.cid, store.dataPath))
      return
    }
    link.bytes += data.byteLength
    this.#rate.add(data.byteLength, now)
    if (piece === 0) this.mime = sniffAudio(data.subarray(0, Math.min(16, data.byteLength))).mime
    this.#deps.emit('piece:verified', { cid: this.cid, piece, peerId: link.id })
    this.#deps.onPiece(this.cid, piece)
    this.#wakeAll(this.#waiters.get(piece))
    this.#waiters.delete(piece)
    // Only peers that have this piece can have lost our interest by it.
    for (const l of this.#links.values()) {
      if (l.interested && l.has !== undefined && hasPiece(l.has, piece)) this.#updateInterest(l)
    }
    if (store.isComplete()) {
      void this.#finish()
      return
    }
    // Refill a half-drained pipeline now, not after this event-loop turn: libuv hands a socket's
    // backlog over in one turn (up to 32 reads, 2 MiB), and a pick deferred past it found the
    // pipeline empty, so an uncapped peer sat idle between bursts (bench:swarm's pair of 128 MiB:
    // 124 → 198 MiB/s). A fuller pipeline waits for the batched pick, and so does a streaming read:
    // the piece it waited for may end it, and its reader's next range must be known before picking.
    if (this.#readers.size === 0 && link.inFlight.size * 2 <= this.#depth(link)) this.#pick()
    else this.#schedule()
    this.#progress()
  }

  async #punish(link: PeerLink, reason: string): Promise<void> {
    logger('banning %s for %s: %s', link.id, this.cid, reason)
    this.#songBans.add(link.id)
    link.wire.abort(new WireError(reason))
    this.#closeLink(link)
    const node = await this.#deps.bans.recordOffence(link.id, this.cid).catch(() => false)
    this.#deps.emit('peer:banned', { cid: this.cid, peerId: link.id, node })
    this.#schedule()
  }

  #updateInterest(link: PeerLink): void {
    const store = this.store
    if (link.has === undefined || store === undefined) return
    let interested = false
    for (let i = 0; i < this.#availability.length && !interested; i++) {
      interested = hasPiece(link.has, i) && !hasPiece(store.have, i)
    }
    if (interested !== link.interested) {
      link.interested = interested
      link.send({ t: 'interested', value: interested })
    }
  }

  #dropRequest(link: PeerLink, piece: number, sendCancel: boolean): void {
    if (!link.inFlight.delete(piece)) return
    this.#deps.requests.inFlight--
    const set = this.#requested.get(piece)
    set?.delete(link.id)
    if (set?.size === 0) this.#requested.delete(piece)
    if (sendCancel) link.send({ t: 'cancel', piece })
  }

  #closeLink(link: PeerLink): void {
    if (link.closed) return
    link.closed = true
    for (const piece of [...link.inFlight.keys()]) this.#dropRequest(link, piece, false)
    if (this.#links.get(link.id) === link) {
      this.#links.delete(link.id)
      if (link.has !== undefined) {
        for (let i = 0; i < this.#availability.length; i++) if (hasPiece(link.has, i)) this.#availability[i]--
      }
    }
    void link.wire.close()
    this.#schedule()
    this.#connectMore()
  }

  // ---- picking ----

  /** How many requests we keep outstanding at this peer. */
  #depth(link: PeerLink): number {
    return pipelineDepth(
      { rttMs: link.rttMs, latencyMs: link.latencyMs, throughputBps: link.delivery.bps },
      this.#pieceSize,
    )
  }

  /** The song's piece size; Tutti's own until the manifest says otherwise. */
  get #pieceSize(): number {
    return this.manifest?.pieceSize ?? PIECE_SIZE
  }

  #view(link: PeerLink): PeerView {
    const depth = this.#depth(link)
    return {
      id: link.id,
      has: link.has ?? new Uint8Array(0),
      choked: link.choked,
      rttMs: link.rttMs,
      throughputBps: link.delivery.bps,
      load: link.load,
      inFlight: link.inFlight.size,
      maxInFlight: depth,
    }
  }

  /**
   * A reader waits for a piece that a peer would send only after pieces it
   * needs less: an uploader serves its queue in order, and against a slow
   * uplink shared with other peers even the minimum pipeline (`MIN_PIPELINE`)
   * is a second or more of queue, so the piece would wait behind all of it.
   * Wherever a peer's queue (past the oldest request, likely on the wire
   * already) holds a piece ahead of one the readers need sooner — or of a
   * critical piece it has that no one has been asked for yet, which would
   * join the queue's end — cancel it; the picker asks again, critical pieces
   * first in reading order, the rest behind them.
   */
  #makeRoomForCritical(critical: readonly number[]): void {
    if (critical.length === 0) return
    const rank = new Map(critical.map((piece, i) => [piece, i]))
    const rankOf = (piece: number) => rank.get(piece) ?? Number.POSITIVE_INFINITY
    const waiting = critical.filter((piece) => !this.#requested.has(piece))
    for (const link of this.#links.values()) {
      if (link.inFlight.size <= KEEP_FOR_CRITICAL || link.has === undefined || link.choked) continue
      const has = link.has
      // In the order the peer serves them (requests sent in one pass share a time; the sort is stable).
      const behind = [...link.inFlight.entries()].sort((a, b) => a[1] - b[1]).slice(KEEP_FOR_CRITICAL)
      let soonest = Math.min(...waiting.filter((piece) => hasPiece(has, piece)).map(rankOf))
      const drop: number[] = []
      for (let i = behind.length - 1; i >= 0; i--) {
        const piece = behind[i][0]
        const r = rankOf(piece)
        if (r > soonest) drop.push(piece)
        else soonest = r
      }
      for (const piece of drop) this.#dropRequest(link, piece, true)
    }
  }

  #schedule(): void {
    if (this.#pickQueued) return
    this.#pickQueued = true
    setImmediate(() => {
      this.#pickQueued = false
      this.#pick()
    })
  }

  #pick(): void {
    const manifest = this.manifest
    const store = this.store
    if (!this.#running || manifest === undefined || store === undefined || this.state !== 'downloading')
      return
    const bucket = this.#deps.downloadBucket
    const now = this.#deps.clock.now()
    const debt = bucket.available(now)
    if (debt < 0) {
      this.#retryPickIn((-debt * 1000) / bucket.rateBytesPerSec)
      return
    }
    if (this.#readers.size === 0 && now < this.#readerGapUntil) {
      this.#retryPickIn(this.#readerGapUntil - now)
      return
    }
    const critical: number[] = []
    const pieces = this.#availability.length
    for (const reader of [...this.#readers].sort((a, b) => a.piece - b.piece)) {
      for (let i = reader.piece, n = 0; i < pieces && i <= reader.last && n < CRITICAL_WINDOW; i++) {
        if (hasPiece(store.have, i)) continue
        critical.push(i)
        n++
      }
    }
    this.#makeRoomForCritical(critical)
    const picks = pickRequests({
      pieceCount: pieces,
      pieceSize: manifest.pieceSize,
      have: store.have,
      requested: this.#requested,
      availability: this.#availability,
      critical,
      peers: [...this.#links.values()].filter((l) => l.has !== undefined).map((l) => this.#view(l)),
      budget: this.#deps.requests.max - this.#deps.requests.inFlight,
      salt: this.#deps.salt,
    })
    for (const { peer, piece } of picks) {
      const link = this.#links.get(peer)
      if (link === undefined) continue
      link.inFlight.set(piece, now)
      this.#deps.requests.inFlight++
      let set = this.#requested.get(piece)
      if (set === undefined) {
        set = new Set()
        this.#requested.set(piece, set)
      }
      set.add(peer)
      link.send({ t: 'request', piece })
      if (bucket.reserve(pieceLength(manifest, piece), now) > 0) {
        this.#retryPickIn((-bucket.available(now) * 1000) / bucket.rateBytesPerSec)
        return
      }
    }
  }

  #retryPickIn(ms: number): void {
    if (this.#pickTimer !== undefined) return
    this.#pickTimer = setTimeout(
      () => {
        this.#pickTimer = undefined
        this.#schedule()
      },
      Math.max(1, ms),
    )
  }

  // ---- completion ----

  /**
   * No provider for too long, or no room on the disk: fail with a clear error.
   * Verified pieces stay on disk, so asking again (or restarting the node)
   * resumes from them.
   */
  async #giveUp(err: Error): Promise<void> {
    if (this.state !== 'finding' && this.state !== 'downloading') return
    logger('giving up on %s: %s', this.cid, err.message)
    this.#deactivate()
    this.state = 'failed'
    this.error = err.message
    this.#failure = err
    await this.store?.close().catch(() => {})
    this.#progress(true)
    this.#deps.emit('download:failed', this.info())
    this.#done.reject(err)
    this.#wakeEveryWaiter()
  }

  async #finish(): Promise<void> {
    const store = this.store
    const manifest = this.manifest
    if (
      store === undefined ||
      manifest === undefined ||
      this.state === 'verifying' ||
      this.state === 'done'
    ) {
      return
    }
    this.state = 'verifying'
    this.#deactivate()
    try {
      // Naming the file (reading its tags) overlaps the durable write and the whole-file check.
      const naming = (async () => {
        const head = await store.readRange(0, Math.min(manifest.size, 16) - 1)
        const sniffed = sniffAudio(head)
        const probed = await probeSongName(store.dataPath, manifest.size)
        return songFileName(probed, probed?.ext ?? sniffed.ext, this.cid)
      })()
      const [name] = await Promise.all([naming, store.verify()])
      const dest = await freePath(join(this.#deps.downloadDir, name))
      this.path = await store.finish(dest)
      await this.#deps.library.addVerifiedFile(this.path, this.cid, manifest)
      this.state = 'done'
      this.#progress(true)
      this.#deps.emit('download:done', this.info())
      this.#done.resolve(this.info())
    } catch (caught) {
      const err = explainWriteError(caught, this.cid, this.#deps.downloadDir)
      this.state = 'failed'
      this.error = err.message
      this.#failure = err
      logger('download of %s failed: %s', this.cid, this.error)
      this.#progress(true)
      this.#deps.emit('download:failed', this.info())
      this.#done.reject(err)
    }
    this.#wakeEveryWaiter()
  }
}

async function freePath(path: string): Promise<string> {
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? path : path.replace(/(\.[^.]*)?$/, ` (${n})$1`)
    try {
      await access(candidate)
    } catch {
      return candidate
    }
  }
}
