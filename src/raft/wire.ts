/**
 * Raft messages on the wire: protocol `/tutti/raft/1.0.0`, one CBOR frame per
 * message (see src/net/framed.ts), validated by these schemas. Sizes are
 * bounded: ids, batches of entries (the core batches about 256 KiB per
 * append), single entries and snapshots.
 */
import { z } from 'zod'
import { decodeMessage, encodeMessage } from '../net/framed.ts'
import type { Message } from './messages.ts'
import { MAX_ENTRY_BYTES } from './types.ts'

export { MAX_ENTRY_BYTES }

export const RAFT_PROTOCOL = '/tutti/raft/1.0.0'

/** Soft cap on entry bytes per append message; the core's `maxBytesPerMessage` default. */
export const MAX_BATCH_BYTES = 256 * 1024
export const MAX_ENTRIES_PER_MESSAGE = 8192
/** Largest application snapshot (the party state: queue, members, timeline). */
export const MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024
/** Largest frame: a snapshot message, or a batch plus CBOR overhead. */
export const MAX_RAFT_FRAME_BYTES = MAX_SNAPSHOT_BYTES + 64 * 1024

const nodeId = z.string().min(1).max(128)
const counter = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const envelope = { from: nodeId, to: nodeId, term: counter }

const entrySchema = z.object({
  index: counter.min(1),
  term: counter.min(1),
  type: z.enum(['normal', 'conf', 'noop']),
  data: z.instanceof(Uint8Array).refine((d) => d.byteLength <= MAX_ENTRY_BYTES, 'entry too large'),
})

const snapshotSchema = z.object({
  index: counter,
  term: counter,
  conf: z.object({ voters: z.array(nodeId).max(64), learners: z.array(nodeId).max(4096) }),
  data: z.instanceof(Uint8Array).refine((d) => d.byteLength <= MAX_SNAPSHOT_BYTES, 'snapshot too large'),
})

export const raftMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('append'),
    ...envelope,
    index: counter,
    logTerm: counter,
    entries: z.array(entrySchema).max(MAX_ENTRIES_PER_MESSAGE),
    commit: counter,
  }),
  z.object({
    type: z.literal('appendResponse'),
    ...envelope,
    index: counter,
    reject: z.boolean(),
    hintIndex: counter,
  }),
  z.object({
    type: z.enum(['vote', 'preVote']),
    ...envelope,
    lastIndex: counter,
    lastTerm: counter,
    transfer: z.boolean(),
  }),
  z.object({ type: z.enum(['voteResponse', 'preVoteResponse']), ...envelope, reject: z.boolean() }),
  z.object({ type: z.literal('heartbeat'), ...envelope, commit: counter }),
  z.object({ type: z.literal('heartbeatResponse'), ...envelope }),
  z.object({ type: z.literal('snapshot'), ...envelope, snapshot: snapshotSchema }),
  z.object({ type: z.literal('timeoutNow'), ...envelope }),
]) as unknown as z.ZodType<Message>

export function encodeRaftMessage(message: Message): Uint8Array {
  return encodeMessage(raftMessageSchema, message)
}

/** Throws `WireError` on anything malformed or oversized. */
export function decodeRaftMessage(bytes: Uint8Array): Message {
  return decodeMessage(raftMessageSchema, bytes, MAX_RAFT_FRAME_BYTES)
}
