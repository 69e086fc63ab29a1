/**
 * `RaftTransport` on libp2p, protocol `/tutti/raft/1.0.0`: one long-lived
 * outbound stream per peer carrying CBOR frames (src/net/framed.ts). Sends
 * never block Raft: each peer has a small queue, and when a peer is
 * unreachable or slow its messages are dropped — Raft resends what matters.
 * An inbound message must come from the connection's own peer id and be
 * addressed to us; anything else resets the stream.
 */
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { FramedStream, WireError } from '../net/framed.ts'
import { log } from '../shared/logger.ts'
import type { Message } from './messages.ts'
import type { RaftTransport } from './node.ts'
import type { NodeId } from './types.ts'
import { MAX_RAFT_FRAME_BYTES, RAFT_PROTOCOL, raftMessageSchema } from './wire.ts'

export interface Libp2pRaftTransportInit {
  /** Messages waiting per peer before the oldest are dropped (default 256). */
  maxQueue?: number
  dialTimeoutMs?: number
}

export interface Libp2pRaftTransport extends RaftTransport {
  start(): Promise<void>
  stop(): Promise<void>
}

type RaftFramed = FramedStream<Message, Message>

interface Outbound {
  queue: Message[]
  framed: RaftFramed | null
  pumping: boolean
}

export function createLibp2pRaftTransport(
  components: { libp2p: Pick<Libp2p, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol'> },
  init: Libp2pRaftTransportInit = {},
): Libp2pRaftTransport {
  const { libp2p } = components
  const self = libp2p.peerId.toString()
  const maxQueue = init.maxQueue ?? 256
  const dialTimeoutMs = init.dialTimeoutMs ?? 5_000
  const logger = log('raft:transport')
  const outbound = new Map<NodeId, Outbound>()
  const inbound = new Set<Stream>()
  let handler: ((m: Message) => void) | null = null
  let started = false

  async function serve(stream: Stream, connection: Connection): Promise<void> {
    inbound.add(stream)
    const framed: RaftFramed = new FramedStream(stream, raftMessageSchema, raftMessageSchema, {
      maxMessageBytes: MAX_RAFT_FRAME_BYTES,
    })
    const remote = connection.remotePeer.toString()
    try {
      for await (const m of framed.messages()) {
        if (m.from !== remote || m.to !== self)
          throw new WireError(`raft message from ${m.from} to ${m.to} on ${remote}'s stream`)
        handler?.(m)
      }
    } catch (err) {
      logger('raft stream from %s reset: %s', remote, (err as Error).message)
      framed.abort(err as Error)
    } finally {
      inbound.delete(stream)
    }
  }

  async function pump(to: NodeId, out: Outbound): Promise<void> {
    out.pumping = true
    try {
      while (started && out.queue.length > 0) {
        if (!out.framed) {
          const stream = await libp2p.dialProtocol(peerIdFromString(to), RAFT_PROTOCOL, {
            signal: AbortSignal.timeout(dialTimeoutMs),
          })
          out.framed = new FramedStream(stream, raftMessageSchema, raftMessageSchema, {
            maxMessageBytes: MAX_RAFT_FRAME_BYTES,
          })
        }
        const m = out.queue.shift() as Message
        await out.framed.write(m)
      }
    } catch (err) {
      // Unreachable or broken: drop what is queued; Raft retries on its own schedule.
      logger('raft send to %s failed: %s', to, (err as Error).message)
      out.framed?.abort(err as Error)
      out.framed = null
      out.queue.length = 0
    } finally {
      out.pumping = false
    }
  }

  return {
    async start() {
      if (started) return
      started = true
      await libp2p.handle(RAFT_PROTOCOL, (stream, connection) => serve(stream, connection), {
        maxInboundStreams: 32,
      })
    },
    async stop() {
      if (!started) return
      started = false
      await libp2p.unhandle(RAFT_PROTOCOL).catch(() => {})
      for (const out of outbound.values()) await out.framed?.close()
      for (const stream of inbound) stream.abort(new Error('raft transport stopped'))
      outbound.clear()
    },
    send(to, message) {
      if (!started || to === self) return
      let out = outbound.get(to)
      if (!out) {
        out = { queue: [], framed: null, pumping: false }
        outbound.set(to, out)
      }
      out.queue.push(message)
      if (out.queue.length > maxQueue) out.queue.splice(0, out.queue.length - maxQueue)
      if (!out.pumping) void pump(to, out)
    },
    onMessage(h) {
      handler = h
      return () => {
        if (handler === h) handler = null
      }
    },
  }
}
