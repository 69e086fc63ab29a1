/**
 * The serving side of `/tutti/swarm/1.0.0`: answers a peer's hello with the
 * manifest and our bitfield, then uploads the pieces it requests while it is
 * unchoked, through the node-wide upload token bucket. Pieces are verified
 * again just before they leave (a library file may have changed on disk), so
 * we never pass on a bad byte. Writes await the stream's drain (backpressure).
 */
import type { Connection, Stream } from '@libp2p/interface'
import { type Manifest, pieceCount, verifyPiece } from '../library/content-id.ts'
import { FramedStream, WireError } from '../net/framed.ts'
import type { Clock } from '../shared/clock.ts'
import { log } from '../shared/logger.ts'
import { hasPiece, isValidBitfield } from './bitfield.ts'
import { decideUnchoked, OPTIMISTIC_ROTATE_MS } from './choker.ts'
import { RateMeter } from './rate.ts'
import {
  type ClientMessage,
  clientMessageSchema,
  MAX_FRAME_BYTES,
  type PexPeer,
  type ServerMessage,
  serverMessageSchema,
} from './schema.ts'
import type { TokenBucket } from './token-bucket.ts'

const logger = log('swarm:upload')
/** Requests a peer may queue at us; more is a protocol violation. */
const MAX_QUEUED_REQUESTS = 64
const PEX_INTERVAL_MS = 10_000

/** A song as we can serve it: complete from the library or partial from a download. */
export interface ServedSong {
  cid: string
  manifest: Manifest
  have: Uint8Array
  complete: boolean
  /**
   * True when every readable piece was verified as it was stored (a download's
   * piece store), so serving it needs no second hash. Library files can change
   * on disk behind our back, so their pieces are hashed again before they leave.
   */
  preverified: boolean
  readPiece(index: number): Promise<Uint8Array>
}

export interface UploadDeps {
  clock: Clock
  bucket: TokenBucket
  slots: () => number
  lookup(cid: string): Promise<ServedSong | undefined>
  isBanned(peer: string, cid?: string): boolean
  /** Bytes/s this peer delivers to us (for tit-for-tat). */
  rateFromPeer(peer: string): number
  /** Other peers of this song worth telling a newcomer about. */
  pexPeers(cid: string, except: string): Promise<PexPeer[]>
  sleep(ms: number, signal?: AbortSignal): Promise<void>
  /** A peer started downloading `cid` from us (it may have pieces we want too). */
  onSession?(peer: string, cid: string): void
}

class UploadSession {
  readonly peer: string
  readonly framed: FramedStream<ClientMessage, ServerMessage>
  cid = ''
  song: ServedSong | undefined
  interested = true
  choked = true
  readonly queue: number[] = []
  readonly sent = new RateMeter()
  readonly abort = new AbortController()
  #wake: (() => void) | undefined

  constructor(peer: string, stream: Stream) {
    this.peer = peer
    this.framed = new FramedStream(stream, clientMessageSchema, serverMessageSchema, {
      maxMessageBytes: MAX_FRAME_BYTES,
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
  #lastRotation = Number.NEGATIVE_INFINITY
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
    try {
      const hello = await session.framed.read({ signal: AbortSignal.timeout(30_000) })
      if (hello === undefined) return
      if (hello.t !== 'hello') throw new WireError(`expected hello, got ${hello.t}`)
      const song = this.#deps.slots() > 0 ? await this.#deps.lookup(hello.cid) : undefined
      if (song === undefined || this.#deps.isBanned(peer, hello.cid)) {
        await session.framed.write({ t: 'unknown' })
        await session.framed.close()
        return
      }
      session.cid = hello.cid
      session.song = song
      // The handshake is queued on the stream before any choke/unchoke can be.
      const handshake = session.framed.write({
        t: 'handshake',
        manifest: hello.wantManifest ? song.manifest : undefined,
        have: song.have.slice(),
        load: this.load(),
        choked: true,
      })
      this.#sessions.add(session)
      this.#deps.onSession?.(peer, hello.cid)
      this.rechoke(false)
      await handshake
      void this.#sendPex(session)
      void this.#serve(session)
      for await (const message of session.framed.messages({ signal: session.abort.signal })) {
        this.#onMessage(session, message)
      }
    } catch (err) {
      logger('upload session with %s ended: %s', peer, (err as Error).message)
      if (err instanceof WireError) session.framed.abort(err)
    } finally {
      session.abort.abort()
      session.wake()
      if (this.#sessions.delete(session)) this.rechoke(false)
      await session.framed.close()
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
          void session.framed.write({ t: 'reject', piece: message.piece }).catch(() => {})
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
        if (!song.preverified && !verifyPiece(song.manifest, piece, data)) {
          logger('refusing to serve piece %d of %s: it no longer verifies', piece, song.cid)
          await session.framed.write({ t: 'reject', piece })
          continue
        }
        const wait = this.#deps.bucket.reserve(data.byteLength, this.#deps.clock.now())
        if (wait > 0) await this.#deps.sleep(wait, signal)
        if (signal.aborted) return
        await session.framed.write({ t: 'piece', piece, data }, { signal })
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
    try {
      while (!signal.aborted) {
        const peers = await this.#deps.pexPeers(session.cid, session.peer)
        if (peers.length > 0) await session.framed.write({ t: 'peers', peers }, { signal })
        await this.#deps.sleep(PEX_INTERVAL_MS, signal)
      }
    } catch {}
  }

  /** Tell every peer downloading `cid` from us that we now have `piece`. */
  announceHave(cid: string, piece: number): void {
    const load = this.load()
    for (const s of this.#sessions) {
      if (s.cid !== cid || s.abort.signal.aborted) continue
      void s.framed.write({ t: 'have', piece, load }).catch(() => s.abort.abort())
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
          rateToPeer: s.sent.rate(now),
        })),
        slots,
        seeding: sessions.every((s) => s.song?.complete === true),
        optimistic: this.#optimistic,
        rotate: due,
        random: Math.random(),
      })
      this.#optimistic = decision.optimistic
      unchoked = new Set(sessions.filter((s) => decision.unchoked.has(key(s))))
    } else {
      unchoked = new Set(sessions.filter((s) => !s.choked && s.interested))
      const capacity = slots > 0 ? slots + 1 : 0
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
      void s.framed.write({ t: s.choked ? 'choke' : 'unchoke' }).catch(() => s.abort.abort())
      s.wake()
    }
  }

  closeAll(): void {
    for (const s of this.#sessions) {
      s.abort.abort()
      s.wake()
      s.framed.abort(new Error('swarm stopping'))
    }
    this.#sessions.clear()
  }
}

export function validPeerBitfield(bits: Uint8Array, manifest: Manifest): boolean {
  return isValidBitfield(bits, pieceCount(manifest.size, manifest.pieceSize))
}
