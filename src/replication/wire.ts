/**
 * Wire schema of `/tutti/raft/1.0.0`: one frame = one Raft message
 * (src/raft/messages.ts), CBOR, validated here before the core sees it.
 * Frames are bounded: appends carry at most the core's `maxBytesPerMessage`
 * of entries; a snapshot carries the whole party state, hence the larger cap.
 */
import { z } from 'zod'
import type { Message } from '../raft/messages.ts'

export const RAFT_PROTOCOL = '/tutti/raft/1.0.0'
/** Entry bytes per append (passed to the core), well under the frame cap. */
export const MAX_APPEND_BYTES = 256 * 1024
export const MAX_RAFT_FRAME_BYTES = 4 * 1024 * 1024

const id = z.string().min(1).max(128)
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const envelope = { from: id, to: id, term: count }

const entry = z.object({
  index: count.min(1),
  term: count.min(1),
  type: z.enum(['normal', 'conf', 'noop']),
  data: z.instanceof(Uint8Array),
})

const conf = z.object({ voters: z.array(id).max(1024), learners: z.array(id).max(4096) })

export const RaftWireMessage = z.discriminatedUnion('type', [
  z.object({
    ...envelope,
    type: z.literal('append'),
    index: count,
    logTerm: count,
    entries: z.array(entry).max(10_000),
    commit: count,
  }),
  z.object({
    ...envelope,
    type: z.literal('appendResponse'),
    index: count,
    reject: z.boolean(),
    hintIndex: count,
  }),
  z.object({
    ...envelope,
    type: z.enum(['vote', 'preVote']),
    lastIndex: count,
    lastTerm: count,
    transfer: z.boolean(),
  }),
  z.object({ ...envelope, type: z.enum(['voteResponse', 'preVoteResponse']), reject: z.boolean() }),
  z.object({ ...envelope, type: z.literal('heartbeat'), commit: count }),
  z.object({ ...envelope, type: z.literal('heartbeatResponse') }),
  z.object({
    ...envelope,
    type: z.literal('snapshot'),
    snapshot: z.object({ index: count, term: count, conf, data: z.instanceof(Uint8Array) }),
  }),
  z.object({ ...envelope, type: z.literal('timeoutNow') }),
]) as unknown as z.ZodType<Message>

export const MAX_GOSSIPED_PEERS = 64
export const MAX_ADDRS_PER_PEER = 8

/**
 * Not a Raft message: the transport's own address gossip. Members tell each
 * other where the rest of the group listens, so that when the leader (often
 * the only peer everyone dialled) dies, the survivors can still reach each
 * other to elect a new one.
 */
export interface AddressBook {
  type: 'addrs'
  from: string
  to: string
  peers: Array<{ id: string; addrs: string[] }>
}

const addressBook = z.object({
  type: z.literal('addrs'),
  from: id,
  to: id,
  peers: z
    .array(z.object({ id, addrs: z.array(z.string().min(1).max(512)).max(MAX_ADDRS_PER_PEER) }))
    .max(MAX_GOSSIPED_PEERS),
})

export type RaftFrame = Message | AddressBook

/** One frame on a raft stream: a Raft message or the transport's address gossip. */
export const RaftFrameSchema = z.union([
  addressBook,
  RaftWireMessage as unknown as z.ZodType<Message>,
]) as unknown as z.ZodType<RaftFrame>
