/**
 * Raft messages over libp2p (`/tutti/raft/1.0.0`). Each direction has its
 * own long-lived stream: we write to a peer only on the stream we opened to
 * it, and read only streams the peer opened to us — so there is one
 * outbound stream per peer, no request/response pairing, and ordering per
 * peer is the stream's. Messages are fire-and-forget, as Raft expects:
 * while a peer is unreachable its messages are dropped (Raft retransmits),
 * and the next message dials again after a backoff.
 *
 * Inbound streams are accepted only from party members (`isMember`), and a
 * message whose `from` is not the authenticated remote peer, or a malformed
 * frame, resets the stream.
 *
 * Every few seconds each outbound stream also carries an address book: where
 * the other peers we talk to listen. Members usually dial only the host, so
 * without it the survivors of a host crash could not reach each other to
 * elect a new leader. Addresses are only hints: dialling one still proves the
 * peer's identity (noise), so a lying member can cost a failed dial, no more.
 */
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { FramedStream } from '../net/framed.ts'
import type { Message } from '../raft/messages.ts'
import type { Clock } from '../shared/clock.ts'
import { log } from '../shared/logger.ts'
import {
  type AddressBook,
  MAX_ADDRS_PER_PEER,
  MAX_GOSSIPED_PEERS,
  MAX_RAFT_FRAME_BYTES,
  RAFT_PROTOCOL,
  type RaftFrame,
  RaftFrameSchema,
} from './wire.ts'

const logger = log('replication')

export interface RaftTransportInit {
  /** Messages queued per peer before the oldest are dropped. Default 1024. */
  maxQueue?: number
  /** First and largest pause between failed dials, ms. Defaults 50 / 1000. */
  minBackoffMs?: number
  maxBackoffMs?: number
  /** Dial timeout, ms. Default 2000. */
  dialTimeoutMs?: number
  /** How often each outbound stream repeats the address book, ms. Default 2000. */
  gossipIntervalMs?: number
}

export interface RaftTransportComponents {
  libp2p: Pick<Libp2p, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol' | 'peerStore'>
  clock: Clock
  /** Only members' streams are accepted. */
  isMember: (peerId: string) => boolean
  /** A validated message from an authenticated member. */
  onMessage: (message: Message) => void
}

export interface RaftTransportStats {
  /** Inbound streams reset: malformed frames, spoofed senders, or the peer dying mid-stream. */
  streamsReset: number
  streamsRefused: number
  dialFailures: number
  dropped: number
}

type Framed = FramedStream<RaftFrame, RaftFrame>

interface Outbound {
  queue: Message[]
  framed: Framed | undefined
  flushing: boolean
  backoffMs: number
  /** Clock time before which we do not dial again (after a failure). */
  retryAt: number
  /** Clock time after which the next write is preceded by the address book. */
  gossipAt: number
}

export class RaftTransport {
  readonly stats: RaftTransportStats = { streamsReset: 0, streamsRefused: 0, dialFailures: 0, dropped: 0 }
  readonly #c: RaftTransportComponents
  readonly #maxQueue: number
  readonly #minBackoff: number
  readonly #maxBackoff: number
  readonly #dialTimeout: number
  readonly #gossipInterval: number
  readonly #peers = new Map<string, Outbound>()
  readonly #inbound = new Set<Framed>()
  #controller = new AbortController()
  #started = false

  constructor(init: RaftTransportInit, components: RaftTransportComponents) {
    this.#c = components
    this.#maxQueue = init.maxQueue ?? 1024
    this.#minBackoff = init.minBackoffMs ?? 50
    this.#maxBackoff = init.maxBackoffMs ?? 1000
    this.#dialTimeout = init.dialTimeoutMs ?? 2000
    this.#gossipInterval = init.gossipIntervalMs ?? 2000
  }

  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    this.#controller = new AbortController()
    await this.#c.libp2p.handle(
      RAFT_PROTOCOL,
      (stream, connection) => this.#serve(stream, connection.remotePeer.toString()),
      { maxInboundStreams: 4, force: true },
    )
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#controller.abort()
    await this.#c.libp2p.unhandle(RAFT_PROTOCOL).catch(() => {})
    for (const out of this.#peers.values()) out.framed?.abort(new Error('raft transport stopped'))
    for (const framed of this.#inbound) framed.abort(new Error('raft transport stopped'))
    this.#peers.clear()
    this.#inbound.clear()
  }

  /** Queue `message` for `message.to`. Never throws, never waits. */
  send(message: Message): void {
    if (!this.#started) return
    let out = this.#peers.get(message.to)
    if (out === undefined) {
      out = {
        queue: [],
        framed: undefined,
        flushing: false,
        backoffMs: this.#minBackoff,
        retryAt: 0,
        gossipAt: 0,
      }
      this.#peers.set(message.to, out)
    }
    if (out.framed === undefined && this.#c.clock.now() < out.retryAt) {
      this.stats.dropped++ // unreachable just now: Raft will resend
      return
    }
    out.queue.push(message)
    if (out.queue.length > this.#maxQueue) {
      out.queue.shift()
      this.stats.dropped++
    }
    if (!out.flushing) void this.#flush(message.to, out)
  }

  /** True while we hold an open stream to `peerId`. */
  connected(peerId: string): boolean {
    return this.#peers.get(peerId)?.framed !== undefined
  }

  /** Forget a peer that left: close our stream to it. */
  disconnect(peerId: string): void {
    const out = this.#peers.get(peerId)
    if (out === undefined) return
    this.#peers.delete(peerId)
    out.queue.length = 0
    out.framed?.abort(new Error('peer left the group'))
  }

  async #flush(peerId: string, out: Outbound): Promise<void> {
    out.flushing = true
    const signal = this.#controller.signal
    try {
      while (out.queue.length > 0 && this.#started && this.#peers.get(peerId) === out) {
        if (out.framed === undefined) {
          try {
            const stream = await this.#c.libp2p.dialProtocol(peerIdFromString(peerId), RAFT_PROTOCOL, {
              signal: AbortSignal.any([signal, AbortSignal.timeout(this.#dialTimeout)]),
            })
            out.framed = new FramedStream(stream, RaftFrameSchema, RaftFrameSchema, {
              maxMessageBytes: MAX_RAFT_FRAME_BYTES,
            })
            out.backoffMs = this.#minBackoff
            out.gossipAt = 0
            this.#watchClose(peerId, out, out.framed)
          } catch (err) {
            this.#failed(peerId, out, err as Error)
            return
          }
        }
        const framed = out.framed
        try {
          if (this.#c.clock.now() >= out.gossipAt) {
            out.gossipAt = this.#c.clock.now() + this.#gossipInterval
            await framed.write(await this.#addressBook(peerId), { signal })
          }
          const message = out.queue.shift()
          if (message === undefined) continue
          await framed.write(message, { signal })
        } catch (err) {
          framed.abort(err as Error)
          if (out.framed === framed) out.framed = undefined
          this.#failed(peerId, out, err as Error)
          return
        }
      }
    } finally {
      out.flushing = false
    }
  }

  /** Where the peers we talk to (other than `to`) listen, from our peer store. */
  async #addressBook(to: string): Promise<AddressBook> {
    const peers: AddressBook['peers'] = []
    for (const id of this.#peers.keys()) {
      if (id === to || !this.#c.isMember(id)) continue
      if (peers.length >= MAX_GOSSIPED_PEERS) break
      const known = await this.#c.libp2p.peerStore.get(peerIdFromString(id)).catch(() => undefined)
      const addrs = (known?.addresses ?? []).map((a) => a.multiaddr.toString()).slice(0, MAX_ADDRS_PER_PEER)
      if (addrs.length > 0) peers.push({ id, addrs })
    }
    return { type: 'addrs', from: this.#c.libp2p.peerId.toString(), to, peers }
  }

  /** Remember where the other members listen; unparsable entries and strangers are ignored. */
  async #learn(book: AddressBook): Promise<void> {
    const self = this.#c.libp2p.peerId.toString()
    for (const { id, addrs } of book.peers) {
      if (id === self || !this.#c.isMember(id)) continue
      let peer: PeerId
      try {
        peer = peerIdFromString(id)
      } catch {
        continue
      }
      const multiaddrs = addrs.flatMap((a) => {
        try {
          return [multiaddr(a)]
        } catch {
          return []
        }
      })
      if (multiaddrs.length === 0) continue
      await this.#c.libp2p.peerStore.merge(peer, { multiaddrs }).catch((err: Error) => {
        logger('could not store addresses of %s: %s', id, err.message)
      })
    }
  }

  #failed(peerId: string, out: Outbound, err: Error): void {
    this.stats.dialFailures++
    this.stats.dropped += out.queue.length
    out.queue.length = 0
    out.retryAt = this.#c.clock.now() + out.backoffMs
    out.backoffMs = Math.min(this.#maxBackoff, out.backoffMs * 2)
    logger('raft stream to %s failed: %s', peerId, err.message)
  }

  /** The remote closing or resetting our outbound stream makes the next send redial. */
  #watchClose(peerId: string, out: Outbound, framed: Framed): void {
    framed.stream.addEventListener(
      'close',
      () => {
        if (out.framed === framed) out.framed = undefined
        logger('raft stream to %s closed', peerId)
      },
      { once: true },
    )
  }

  async #serve(stream: Stream, remote: string): Promise<void> {
    if (!this.#started || !this.#c.isMember(remote)) {
      this.stats.streamsRefused++
      stream.abort(new Error('not a party member'))
      return
    }
    const framed: Framed = new FramedStream(stream, RaftFrameSchema, RaftFrameSchema, {
      maxMessageBytes: MAX_RAFT_FRAME_BYTES,
    })
    this.#inbound.add(framed)
    const signal = this.#controller.signal
    try {
      while (true) {
        const message = await framed.read({ signal })
        if (message === undefined) break
        if (message.from !== remote || message.to !== this.#c.libp2p.peerId.toString()) {
          throw new Error(`message from ${message.from} to ${message.to} on ${remote}'s stream`)
        }
        if (message.type === 'addrs') await this.#learn(message)
        else this.#c.onMessage(message)
      }
      await framed.close()
    } catch (err) {
      if (this.#started) {
        this.stats.streamsReset++
        logger('raft stream from %s reset: %s', remote, (err as Error).message)
      }
      framed.abort(err as Error)
    } finally {
      this.#inbound.delete(framed)
    }
  }
}
