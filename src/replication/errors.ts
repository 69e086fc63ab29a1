/**
 * Errors of the replicated party log. `NotLeaderError` is the Raft core's
 * (code RAFT_NOT_LEADER, status 421, `.leader` = best-known leader id):
 * re-exported so callers need only this module.
 */
import { TuttiError } from '../shared/errors.ts'

export { NotLeaderError, ProposalDroppedError } from '../raft/errors.ts'

/** The log was stopped (or never started) while the operation was pending. */
export class LogStoppedError extends TuttiError {
  constructor() {
    super('REPLICATION_STOPPED', 'the party log is stopped', 503)
  }
}

/**
 * The entry lost its place in the log: leadership changed before it was
 * committed and the new leader overwrote it. It was NOT applied; resubmit.
 */
export class ProposalLostError extends TuttiError {
  constructor(index: number) {
    super(
      'REPLICATION_PROPOSAL_LOST',
      `entry ${index} was overwritten by a new leader before it committed`,
      503,
    )
  }
}

/**
 * A snapshot from the new leader replaced the log before we learned the
 * entry's fate: it may or may not have committed. Check the state before
 * resubmitting.
 */
export class CommitUnknownError extends TuttiError {
  constructor(index: number) {
    super(
      'REPLICATION_COMMIT_UNKNOWN',
      `entry ${index} was superseded by a snapshot; its outcome is unknown`,
      503,
    )
  }
}

/** A member that joined has not received the party state from the leader yet. */
export class NotSyncedError extends TuttiError {
  constructor() {
    super('REPLICATION_NOT_SYNCED', 'the party state has not arrived from the leader yet', 503)
  }
}

export class TransferFailedError extends TuttiError {
  constructor(message: string) {
    super('REPLICATION_TRANSFER_FAILED', message, 503)
  }
}
