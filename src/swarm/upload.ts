/**
 * The serving side of `/tutti/swarm/1.0.0`: answers a peer's hello with the
 * manifest and our bitfield, then uploads the pieces it requests while it is
 * unchoked, through the node-wide upload token bucket. Every piece that leaves
 * verifies against the manifest (library files are checked by the song's
 * `readPiece`, since they may change on disk), so we never pass on a bad byte.
 * Piece payloads go out as binary frames (no copy); sending waits for the
 * stream's drain (backpressure). Haves are batched and skipped for peers that
 * already have the piece.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { type Manifest, pieceCount } from '../library/content-id.ts'
import { WireError } from '../net/framed.ts'
import type { Clock } from '../shared/clock.ts'
import { log } from '../shared/logger.ts'
import { hasPiece, isValidBitfield } from './bitfield.ts'
import { decideUnchoked, OPTIMISTIC_ROTATE_MS, regularSlots } from './choker.ts'
import { RateMeter } from './rate.ts'
import {
  type ClientMessage,
  MAX_FRAME_BYTES,
  MAX_HAVES,
  type PexPeer,
  parseClientFrame,
  pieceFrameHeader,
  type ServerControlMessage,
  serverMessageSchema,
} from './schema.ts'
import type { TokenBucket } from './token-bucket.ts'
import { SwarmWire } from './wire.ts'

const logger = log('swarm:upload')
/** Requests a peer may queue at us; more is a protocol violation. */
const MAX_QUEUED_REQUESTS = 64
const PEX_INTERVAL_MS = 10_000
/**
 * A newcomer is told to the song's other peers this soon (not at their next
 * `PEX_INTERVAL_MS`): newcomers come in bursts (a swarm's start, a party's
 * members fetching the queue), and one message carries the burst.
 */
const PEX_NEWS_DELAY_MS = 1_000
/**
 * Haves are sent in batches at most this often (one frame instead of one per
 * piece per peer). Haves are most of the frames a leecher handles; at 100 ms
 * rather than 25, all nodes of bench:swarm N = 9 used ~10 % less CPU with the
 * same time to finish (interleaved runs). A peer learns of a piece at most
 * 100 ms late, well under the ~160 ms one 64 KiB piece takes at a home
 * uplink's share (2 MiB/s over 5 slots), and its request pipeline is deeper.
 */
const HAVE_BATCH_MS = 100

/** A song as we can serve it: complete from the library or partial from a download. */
export interface ServedSong {
  cid: string
  manifest: Manifest
  have: Uint8Array
  complete: boolean
  /**
   * The piece's bytes, verified against the manifest (a download's store holds
   * only verified pieces; a library file is re-checked whenever it changed on
   * disk). `undefined` when the piece no longer verifies.
   */
  readPiece(index: number): Promise<Uint8Array | undefined>
}

export interface UploadDeps {
  clock: Clock
  bucket: TokenBucket
  slots: () => number
  /** The song as `peer` may have it; undefined (answered `unknown`) when we lack it or may not share it. */
  lookup(cid: string, peer: string): Promise<ServedSong | undefined>
  isBanned(peer: string, cid?: string): boolean
  /** Bytes/s this peer delivers to us (for tit-for-tat). */
  rateFromPeer(peer: string): number
  /** Other peers of this song worth telling a newcomer about. */
  pexPeers(cid: string, except: string): Promise<PexPeer[]>
  sleep(ms: number, signal?: AbortSignal): Promise<void>
  /** A peer started downloading `cid` from us (it may have pieces we want too). */
  onSession?(peer: string, cid: string): void
  /** True when we know (from our own download link) that `peer` already has `piece`. */
  peerHas?(peer: string, cid: string, piece: number): boolean
}

class UploadSession {
  readonly peer: string
  readonly wire: SwarmWire<ClientMessage, ServerControlMessage>
  cid = ''
  /** Pieces to announce with the next have batch. */
  haves: number[] = []
  song: ServedSong | undefined
  interested = true
  choked = true
  readonly queue: number[] = []
  readonly sent = new RateMeter()
  /** This node's random rank for the peer, for the choker's ties. */
  readonly tiebreak = Math.random()
  readonly abort = new AbortController()
  /** Order in which sessions joined (after their handshake); a later one was told about the earlier. */
  joined = 0
  /** Cuts the wait before this session's next peer exchange short: another peer arrived for the song. */
  pexNews: (() => void) | undefined
  #wake: (() => void) | undefined

  constructor(peer: string, stream: Stream) {
    this.peer = peer
    this.wire = new SwarmWire(stream, {
      parse: parseClientFrame,
      outSchema: serverMessageSchema,
      maxFrameBytes: MAX_FRAME_BYTES,
    })
  }

  wake(): void {
    this.#wake?.()
    this.#wake = undefined
  }

  waitForWork(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve
    })
  }
}

export class Uploads {
  readonly #deps: UploadDeps
  readonly #sessions = new Set<UploadSession>()
  #optimistic: string | undefined
  #joined = 0
  #lastRotation = Number.NEGATIVE_INFINITY
  #haveTimer: NodeJS.Timeout | undefined
  readonly uploaded = new RateMeter()

  constructor(deps: UploadDeps) {
    this.#deps = deps
  }

  /** Active uploads: unchoked sessions. Reported to peers as our load. */
  load(): number {
    let n = 0
    for (const s of this.#sessions) if (!s.choked && s.interested) n++
    return n
  }

  sessionsFor(cid: string): string[] {
    return [...this.#sessions].filter((s) => s.cid === cid).map((s) => s.peer)
  }

  async handle(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const session = new UploadSession(peer, stream)
    if (this.#deps.isBanned(peer)) {
      stream.abort(new Error('banned'))
      return
    }
    const onAbort = (): void => session.wire.abort(new Error('session closed'))
    try {
      const hello = await session.wire.read({ signal: AbortSignal.timeout(30_000) })
      if (hello === undefined) return
      if (hello.t !== 'hello') throw new WireError(`expected hello, got ${hello.t}`)
      const song = this.#deps.slots() > 0 ? await this.#deps.lookup(hello.cid, peer) : undefined
      if (song === undefined || this.#deps.isBanned(peer, hello.cid)) {
        session.wire.send({ t: 'unknown' })
        await session.wire.close()
        return
      }
      session.cid = hello.cid
      session.song = song
      // The handshake is queued on the stream before any choke/unchoke can be.
      session.wire.send({
        t: 'handshake',
        manifest: hello.wantManifest ? song.manifest : undefined,
        have: song.have.slice(),
        load: this.load(),
        choked: true,
      })
      session.joined = ++this.#joined
      this.#sessions.add(session)
      this.#deps.onSession?.(peer, hello.cid)
      for (const other of this.#sessions) if (other !== session && other.cid === hello.cid) other.pexNews?.()
      this.rechoke(false)
      void this.#sendPex(session)
      void this.#serve(session)
      session.abort.signal.addEventListener('abort', onAbort, { once: true })
      await session.wire.onMessage((message) => this.#onMessage(session, message))
    } catch (err) {
      logger('upload session with %s ended: %s', peer, (err as Error).message)
      if (err instanceof WireError) session.wire.abort(err)
    } finally {
      session.abort.signal.removeEventListener('abort', onAbort)
      session.abort.abort()
      session.wake()
      if (this.#sessions.delete(session)) this.rechoke(false)
      await session.wire.close()
    }
  }

  #onMessage(session: UploadSession, message: ClientMessage): void {
    const song = session.song!
    switch (message.t) {
      case 'hello':
        throw new WireError('second hello on one stream')
      case 'interested':
        if (session.interested !== message.value) {
          session.interested = message.value
          this.rechoke(false)
        }
        return
      case 'request': {
        if (message.piece >= pieceCount(song.manifest.size, song.manifest.pieceSize)) {
          throw new WireError(`request for piece ${message.piece} past the end`)
        }
        if (session.queue.length >= MAX_QUEUED_REQUESTS) throw new WireError('too many queued requests')
        if (session.choked || !hasPiece(song.have, message.piece)) {
          session.wire.send({ t: 'reject', piece: message.piece })
          return
        }
        if (!session.queue.includes(message.piece)) session.queue.push(message.piece)
        session.wake()
        return
      }
      case 'cancel': {
        const at = session.queue.indexOf(message.piece)
        if (at >= 0) session.queue.splice(at, 1)
        return
      }
    }
  }

  async #serve(session: UploadSession): Promise<void> {
    const song = session.song!
    const signal = session.abort.signal
    try {
      while (!signal.aborted) {
        const piece = session.choked ? undefined : session.queue.shift()
        if (piece === undefined) {
          await session.waitForWork()
          continue
        }
        const data = await song.readPiece(piece)
        if (data === undefined) {
          logger('refusing to serve piece %d of %s: it no longer verifies', piece, song.cid)
          session.wire.send({ t: 'reject', piece })
          continue
        }
        const wait = this.#deps.bucket.reserve(data.byteLength, this.#deps.clock.now())
        if (wait > 0) await this.#deps.sleep(wait, signal)
        if (signal.aborted) return
        // Cancelled or choked while we waited for tokens: the bytes stay booked, the piece stays home.
        if (session.choked) continue
        if (!session.wire.sendFrame([pieceFrameHeader(piece, data.byteLength), data])) {
          await session.wire.drained({ signal })
        }
        const now = this.#deps.clock.now()
        session.sent.add(data.byteLength, now)
        this.uploaded.add(data.byteLength, now)
      }
    } catch (err) {
      if (!signal.aborted) logger('serving %s failed: %s', session.peer, (err as Error).message)
      session.abort.abort()
    }
  }

  async #sendPex(session: UploadSession): Promise<void> {
    const signal = session.abort.signal
    let lastSent = ''
    try {
      while (!signal.aborted) {
        const peers = this.#withDialOrder(session, await this.#deps.pexPeers(session.cid, session.peer))
        // Only news: the same list again would cost the peer a decode and a peer-store merge for nothing.
        const key = peers.map((p) => p.id).join(' ')
        if (peers.length > 0 && key !== lastSent) session.wire.send({ t: 'peers', peers })
        lastSent = key
        const news = new AbortController()
        session.pexNews = () => news.abort()
        await this.#deps.sleep(PEX_INTERVAL_MS, AbortSignal.any([signal, news.signal])).catch(() => {})
        session.pexNews = undefined
        if (news.signal.aborted) await this.#deps.sleep(PEX_NEWS_DELAY_MS, signal)
      }
    } catch {}
  }

  /**
   * Marks who should dial whom (`knowsYou`): a peer that joined this song here
   * after `session` got its address in its first exchange and is dialing it.
   * Without the mark, a newcomer with the larger id waited out the id-order
   * defer for a peer that did not know it yet, and the two could end up
   * dialing each other a second apart. (The duplicate connections seen in
   * bench:swarm come mostly from the DHT's contact checks, not from this.)
   */
  #withDialOrder(session: UploadSession, peers: PexPeer[]): PexPeer[] {
    const joined = new Map<string, number>()
    for (const other of this.#sessions) if (other.cid === session.cid) joined.set(other.peer, other.joined)
    return peers.map((p) => {
      const at = joined.get(p.id)
      return at === undefined ? p : { ...p, knowsYou: at > session.joined }
    })
  }

  /**
   * Tell every peer downloading `cid` from us that we now have `piece` —
   * batched (one `haves` frame per peer every `HAVE_BATCH_MS`) and not to
   * peers we know already have it.
   */
  announceHave(cid: string, piece: number): void {
    let queued = false
    for (const s of this.#sessions) {
      if (s.cid !== cid || s.abort.signal.aborted) continue
      if (this.#deps.peerHas?.(s.peer, cid, piece) === true) continue
      s.haves.push(piece)
      queued = true
    }
    if (queued && this.#haveTimer === undefined) {
      this.#haveTimer = setTimeout(() => this.#flushHaves(), HAVE_BATCH_MS)
    }
  }

  #flushHaves(): void {
    this.#haveTimer = undefined
    const load = this.load()
    for (const s of this.#sessions) {
      if (s.haves.length === 0) continue
      const pieces = s.haves.filter((p) => this.#deps.peerHas?.(s.peer, s.cid, p) !== true)
      s.haves = []
      if (s.abort.signal.aborted) continue
      for (let i = 0; i < pieces.length; i += MAX_HAVES) {
        const batch = pieces.slice(i, i + MAX_HAVES)
        s.wire.send(
          batch.length === 1 ? { t: 'have', piece: batch[0]!, load } : { t: 'haves', pieces: batch, load },
        )
      }
    }
  }

  /**
   * Re-decide who is unchoked. Periodically (`periodic`), by the choker's full
   * ranking with optimistic rotation; between rounds, only fill free slots and
   * free those of peers that lost interest, so newcomers start at once without
   * churning everyone else.
   */
  rechoke(periodic: boolean): void {
    const now = this.#deps.clock.now()
    const sessions = [...this.#sessions].filter((s) => !s.abort.signal.aborted)
    const slots = this.#deps.slots()
    const seeding = sessions.every((s) => s.song?.complete === true)
    let unchoked: Set<UploadSession>
    if (periodic) {
      const due = now - this.#lastRotation >= OPTIMISTIC_ROTATE_MS
      if (due) this.#lastRotation = now
      const key = (s: UploadSession): string => `${s.peer} ${s.cid}`
      const decision = decideUnchoked({
        peers: sessions.map((s) => ({
          id: key(s),
          interested: s.interested,
          rateFromPeer: this.#deps.rateFromPeer(s.peer),
          sentTotal: s.sent.total,
          tiebreak: s.tiebreak,
        })),
        slots,
        seeding,
        optimistic: this.#optimistic,
        rotate: due,
        random: Math.random(),
      })
      this.#optimistic = decision.optimistic
      unchoked = new Set(sessions.filter((s) => decision.unchoked.has(key(s))))
    } else {
      unchoked = new Set(sessions.filter((s) => !s.choked && s.interested))
      const capacity = slots > 0 ? regularSlots(slots, seeding) + 1 : 0
      for (const s of sessions) {
        if (unchoked.size >= capacity) break
        if (s.choked && s.interested) unchoked.add(s)
      }
    }
    for (const s of sessions) {
      const unchoke = unchoked.has(s)
      if (unchoke === !s.choked) continue
      s.choked = !unchoke
      if (s.choked) s.queue.length = 0
      s.wire.send({ t: s.choked ? 'choke' : 'unchoke' })
      s.wake()
    }
  }

  closeAll(): void {
    if (this.#haveTimer !== undefined) clearTimeout(this.#haveTimer)
    this.#haveTimer = undefined
    for (const s of this.#sessions) {
      s.abort.abort()
      s.wake()
      s.wire.abort(new Error('swarm stopping'))
    }
    this.#sessions.clear()
  }
}

export function validPeerBitfield(bits: Uint8Array, manifest: Manifest): boolean {
  return isValidBitfield(bits, pieceCount(manifest.size, manifest.pieceSize))
}
