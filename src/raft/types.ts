/**
 * Data types of the Raft core. Node ids are strings (libp2p peer ids).
 * Indexes and terms start at 1; index 0 / term 0 is the empty log's sentinel.
 */
export type NodeId = string

/** Largest command a proposal may carry (party commands are tiny; this is a sanity bound the wire enforces too). */
export const MAX_ENTRY_BYTES = 256 * 1024

/**
 * `normal` carries an application command; `conf` a full membership
 * configuration (see `encodeConfState`); `noop` is the entry a new leader
 * appends to commit entries of earlier terms (§5.4.2) — the app skips it.
 */
export type EntryType = 'normal' | 'conf' | 'noop'

export interface Entry {
  index: number
  term: number
  type: EntryType
  data: Uint8Array
}

/** What must be on disk before a vote or an append acknowledgement leaves the node. */
export interface HardState {
  term: number
  vote: NodeId | null
  commit: number
}

/** Membership: voters decide elections and commits; learners only receive the log. */
export interface ConfState {
  voters: NodeId[]
  learners: NodeId[]
}

export interface Snapshot {
  /** Last log index the snapshot covers, and its term. */
  index: number
  term: number
  /** Membership as of `index`. */
  conf: ConfState
  /** Application state after applying every entry up to `index`. */
  data: Uint8Array
}

/** Single-server membership changes. `addVoter` on a learner promotes it. */
export type ConfChange =
  | { type: 'addVoter'; node: NodeId }
  | { type: 'addLearner'; node: NodeId }
  | { type: 'removeNode'; node: NodeId }

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader'

/** Volatile state the app may show (who leads, what we are). Not persisted. */
export interface SoftState {
  leader: NodeId | null
  role: Role
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Conf entries carry the whole resulting configuration, sorted, as JSON bytes: deterministic and self-contained. */
export function encodeConfState(conf: ConfState): Uint8Array {
  return encoder.encode(
    JSON.stringify({ voters: [...conf.voters].sort(), learners: [...conf.learners].sort() }),
  )
}

export function decodeConfState(data: Uint8Array): ConfState {
  const parsed = JSON.parse(decoder.decode(data)) as ConfState
  return { voters: [...parsed.voters], learners: [...parsed.learners] }
}
