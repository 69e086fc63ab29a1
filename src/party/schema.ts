/**
 * `/tutti/party/1.0.0` — the one schema file of the party protocol.
 *
 * A member keeps one long-lived stream to the host:
 *   member → host: hello (join with the invite secret), submit (a signed
 *                  command), ping / pong (heartbeats + clock samples), bye
 *   host → member: welcome (snapshot + log index), pending (awaiting the
 *                  host's approval), refused, entry (one committed log entry),
 *                  result (answer to a submit), ping / pong, members (live
 *                  member stats)
 * Every field is bounded; anything else is a WireError and the stream is reset.
 */
import { z } from 'zod'
import { LIMITS } from './state.ts'

export const PARTY_PROTOCOL = '/tutti/party/1.0.0'
/** A snapshot with a full queue is the largest frame: 600 entries × ~0.8 KiB. */
export const MAX_PARTY_MESSAGE_BYTES = 1024 * 1024

const peerId = z.string().min(1).max(128)
const text = z.string().max(LIMITS.maxTextLength)
const name = z.string().min(1).max(LIMITS.maxNameLength)
const finite = z.number().finite()
const partyId = z.string().min(1).max(64)

export const songRefSchema = z.object({
  cid: z.string().min(1).max(LIMITS.maxTextLength),
  title: text,
  artist: text,
  durationSec: z.number().positive().max(LIMITS.maxDurationSec),
})

export const partyCommandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('join'), name }),
  z.object({ type: z.literal('approve'), peerId }),
  z.object({ type: z.literal('reject'), peerId }),
  z.object({ type: z.literal('leave') }),
  z.object({ type: z.literal('remove-member'), peerId, reason: text.optional() }),
  z.object({
    type: z.literal('set-permissions'),
    mode: z.enum(['host-only', 'everyone', 'djs']),
    djs: z.array(peerId).max(LIMITS.maxDjs).optional(),
  }),
  z.object({ type: z.literal('set-join-policy'), policy: z.enum(['open', 'approve']) }),
  z.object({ type: z.literal('rename'), name }),
  z.object({ type: z.literal('enqueue'), song: songRefSchema, next: z.boolean().optional() }),
  z.object({ type: z.literal('remove'), entryId: z.string().min(1).max(32) }),
  z.object({
    type: z.literal('move'),
    entryId: z.string().min(1).max(32),
    toIndex: z.number().int().min(0).max(10_000),
  }),
  z.object({
    type: z.literal('play'),
    entryId: z.string().min(1).max(32).optional(),
    position: z.number().min(0).max(LIMITS.maxDurationSec).optional(),
  }),
  z.object({ type: z.literal('pause') }),
  z.object({ type: z.literal('seek'), position: z.number().min(0).max(LIMITS.maxDurationSec) }),
  z.object({ type: z.literal('skip') }),
  z.object({ type: z.literal('previous') }),
  z.object({ type: z.literal('end') }),
  z.object({ type: z.literal('set-host'), peerId }),
])

/** Why a member (or the local API) may not submit `set-host`: the elected leader proposes it for itself only. */
export const SET_HOST_REFUSAL =
  'set-host cannot be submitted: only the elected leader makes itself the host (it proposes that on its own)'

/** A command a member or the local API may submit: any party command except `set-host`. */
export const submittableCommandSchema = partyCommandSchema.refine((c) => c.type !== 'set-host', {
  message: SET_HOST_REFUSAL,
})

export const logEntrySchema = z.object({
  command: partyCommandSchema,
  from: peerId,
  effectivePartyTime: finite,
  requestId: z.string().min(1).max(128).optional(),
  proposer: peerId.optional(),
})

export const commandResultSchema = z.union([
  z.object({ ok: z.literal(true), entryId: z.string().max(32).optional() }),
  z.object({
    ok: z.literal(false),
    code: z.enum(['not-member', 'forbidden', 'invalid', 'not-found', 'conflict', 'ended', 'unavailable']),
    reason: z.string().max(512),
  }),
])

const queueEntrySchema = z.object({
  entryId: z.string().min(1).max(32),
  cid: z.string().min(1).max(LIMITS.maxTextLength),
  title: text,
  artist: text,
  durationSec: z.number().positive().max(LIMITS.maxDurationSec),
  addedBy: peerId,
})

export const partyStateSchema = z.object({
  id: partyId,
  name: z.string().max(LIMITS.maxNameLength),
  hostPeerId: peerId,
  joinPolicy: z.enum(['open', 'approve']),
  permissions: z.object({
    mode: z.enum(['host-only', 'everyone', 'djs']),
    djs: z.array(peerId).max(LIMITS.maxDjs),
  }),
  members: z
    .array(
      z.object({
        peerId,
        name: z.string().max(LIMITS.maxNameLength),
        role: z.enum(['host', 'dj', 'member']),
      }),
    )
    .max(LIMITS.maxMembers),
  pending: z
    .array(z.object({ peerId, name: z.string().max(LIMITS.maxNameLength), requestedAt: finite }))
    .max(LIMITS.maxPending),
  queue: z.array(queueEntrySchema).max(LIMITS.maxUpcoming + LIMITS.maxHistory + 1),
  timeline: z.object({
    entryId: z.string().max(32).nullable(),
    anchorPartyTime: finite,
    anchorPosition: finite,
    paused: z.boolean(),
  }),
  nextEntrySeq: z.number().int().min(1),
  ended: z.boolean(),
})

/** The signed part of a submitted command: the signature covers these CBOR bytes exactly. */
export const signedCommandSchema = z.object({
  partyId,
  from: peerId,
  /** Random per-session id + increasing sequence: the host refuses replays. */
  session: z.string().min(8).max(64),
  seq: z.number().int().min(0),
  command: partyCommandSchema,
  /** Stays the same when the command is retried at a new host (de-duplicated in the log). */
  requestId: z.string().min(1).max(128).optional(),
})

const memberStatSchema = z.object({
  peerId,
  rttMs: finite.optional(),
  /** The member's own estimate of its party-clock error (ms). */
  syncErrorMs: finite.optional(),
  lastSeenAgoMs: finite,
  suspected: z.boolean(),
})

const pingSchema = z.object({
  type: z.literal('ping'),
  id: z.number().int().min(0),
  t0: finite,
  syncErrorMs: finite.optional(),
})
const pongSchema = z.object({
  type: z.literal('pong'),
  id: z.number().int().min(0),
  t0: finite,
  t1: finite,
  t2: finite,
})

export const memberToHostSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    partyId,
    secret: z.string().min(1).max(128),
    name,
    /** Log index the member already has (for a resumed session); 0 = needs a snapshot. */
    haveIndex: z.number().int().min(0).optional(),
  }),
  z.object({
    type: z.literal('submit'),
    requestId: z.number().int().min(0),
    payload: z.instanceof(Uint8Array).refine((b) => b.byteLength <= 8192, 'signed command too large'),
    signature: z.instanceof(Uint8Array).refine((b) => b.byteLength <= 512, 'signature too large'),
  }),
  pingSchema,
  pongSchema,
  z.object({ type: z.literal('bye') }),
])

export const hostToMemberSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('welcome'),
    partyId,
    index: z.number().int().min(0),
    snapshot: partyStateSchema,
  }),
  z.object({ type: z.literal('pending'), partyId }),
  z.object({ type: z.literal('refused'), reason: z.string().max(512) }),
  z.object({
    type: z.literal('entry'),
    index: z.number().int().min(1),
    entry: logEntrySchema,
    result: commandResultSchema,
  }),
  z.object({
    type: z.literal('result'),
    requestId: z.number().int().min(0),
    index: z.number().int().min(0).optional(),
    result: commandResultSchema,
  }),
  pingSchema,
  pongSchema,
  z.object({ type: z.literal('members'), stats: z.array(memberStatSchema).max(LIMITS.maxMembers) }),
])

export type MemberToHost = z.infer<typeof memberToHostSchema>
export type HostToMember = z.infer<typeof hostToMemberSchema>
export type SignedCommand = z.infer<typeof signedCommandSchema>
export type MemberStat = z.infer<typeof memberStatSchema>
export type WireCommandResult = z.infer<typeof commandResultSchema>

/** Invite payload (base64url CBOR-free JSON in `tutti://join/<…>`). */
export const inviteSchema = z.object({
  partyId,
  hostPeerId: peerId,
  hostAddrs: z.array(z.string().max(256)).max(16),
  secret: z.string().min(1).max(128),
})
export type Invite = z.infer<typeof inviteSchema>
