import { TuttiError } from '../shared/errors.ts'
import type { NodeId } from './types.ts'

/** A proposal reached a node that is not the leader. `leader` is the best guess, if any. */
export class NotLeaderError extends TuttiError {
  readonly leader: NodeId | null
  constructor(leader: NodeId | null) {
    super(
      'RAFT_NOT_LEADER',
      leader ? `not the leader; try ${leader}` : 'not the leader; no leader known',
      421,
    )
    this.leader = leader
  }
}

/** The leader cannot take the proposal now (leadership transfer, pending conf change, ...). */
export class ProposalDroppedError extends TuttiError {
  constructor(message: string) {
    super('RAFT_PROPOSAL_DROPPED', message, 503)
  }
}

export class InvalidConfChangeError extends TuttiError {
  constructor(message: string) {
    super('RAFT_INVALID_CONF_CHANGE', message, 400)
  }
}

/** Persisted state is unreadable beyond what crash recovery may repair. */
export class StorageCorruptError extends TuttiError {
  constructor(message: string) {
    super('RAFT_STORAGE_CORRUPT', message, 500)
  }
}
