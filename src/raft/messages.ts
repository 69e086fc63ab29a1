/**
 * The messages Raft nodes exchange: one discriminated union on `type`.
 * Every message carries the sender's term (for pre-vote requests: the term
 * the sender would campaign in; for granted pre-vote responses: that same term).
 */
import type { Entry, NodeId, Snapshot } from './types.ts'

interface Envelope {
  from: NodeId
  to: NodeId
  term: number
}

/** AppendEntries: `index`/`logTerm` identify the entry preceding `entries`. */
export interface AppendMessage extends Envelope {
  type: 'append'
  index: number
  logTerm: number
  entries: Entry[]
  commit: number
}

/**
 * Answer to `append` or `snapshot`. Success: `index` is the follower's last
 * index now known to match the leader. Rejection: `index` is the rejected
 * `append.index`, `hintIndex` a guess where the logs might agree.
 */
export interface AppendResponse extends Envelope {
  type: 'appendResponse'
  index: number
  reject: boolean
  hintIndex: number
}

export interface VoteRequest extends Envelope {
  type: 'vote' | 'preVote'
  lastIndex: number
  lastTerm: number
  /** Set by a leadership transfer: the receiver must not ignore it for lease reasons. */
  transfer: boolean
}

export interface VoteResponse extends Envelope {
  type: 'voteResponse' | 'preVoteResponse'
  reject: boolean
}

/** `commit` is min(leader commit, follower match), so it is always safe to apply. */
export interface HeartbeatMessage extends Envelope {
  type: 'heartbeat'
  commit: number
}

export interface HeartbeatResponse extends Envelope {
  type: 'heartbeatResponse'
}

export interface SnapshotMessage extends Envelope {
  type: 'snapshot'
  snapshot: Snapshot
}

/** Leadership transfer: the leader tells a caught-up voter to campaign now. */
export interface TimeoutNowMessage extends Envelope {
  type: 'timeoutNow'
}

export type Message =
  | AppendMessage
  | AppendResponse
  | VoteRequest
  | VoteResponse
  | HeartbeatMessage
  | HeartbeatResponse
  | SnapshotMessage
  | TimeoutNowMessage

export type MessageType = Message['type']
