/**
 * The leader's view of one follower (voter or learner).
 * - probe: we do not know where the logs agree; send one append per heartbeat.
 * - replicate: the follower keeps up; pipeline appends (bounded in flight).
 * - snapshot: the follower needs a snapshot; wait for it to be acknowledged.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot'

export const MAX_INFLIGHT_MESSAGES = 64

export class Progress {
  /** Highest index known to be in the follower's log. */
  match = 0
  /** Next index to send. */
  next: number
  state: ProgressState = 'probe'
  /** In probe state: an append is out, wait for an answer or the next heartbeat. */
  probeSent = false
  /** In snapshot state: the snapshot's index. */
  pendingSnapshot = 0
  /** Leader ticks spent in snapshot state; a lost snapshot is resent after an election timeout. */
  snapshotTicks = 0
  /** Heard from it since the last check-quorum round. */
  recentActive = false
  /** Last index of each append in flight (replicate state). */
  inflight: number[] = []

  constructor(next: number) {
    this.next = next
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1)
    } else {
      this.next = this.match + 1
    }
    this.reset('probe')
  }

  becomeReplicate(): void {
    this.next = this.match + 1
    this.reset('replicate')
  }

  becomeSnapshot(index: number): void {
    this.reset('snapshot')
    this.pendingSnapshot = index
  }

  private reset(state: ProgressState): void {
    this.state = state
    this.probeSent = false
    this.pendingSnapshot = 0
    this.snapshotTicks = 0
    this.inflight = []
  }

  /** A successful append response for `index`. Returns false if stale (nothing learned). */
  maybeUpdate(index: number): boolean {
    let updated = false
    if (index > this.match) {
      this.match = index
      updated = true
      this.probeSent = false
    }
    this.next = Math.max(this.next, index + 1)
    while (this.inflight.length > 0 && this.inflight[0] <= index) this.inflight.shift()
    return updated
  }

  /**
   * A rejection of the append at `rejected`. Returns false when the rejection
   * is stale (answers an append we have since moved past).
   */
  maybeDecrease(rejected: number, hintIndex: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, hintIndex + 1), this.match + 1)
    this.probeSent = false
    return true
  }

  /** After sending an append ending at `lastIndex`. */
  sentEntries(lastIndex: number, count: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1
        this.inflight.push(lastIndex)
      }
    } else if (this.state === 'probe') {
      this.probeSent = true
    }
  }

  /** Whether the leader should hold further appends to this follower for now. */
  isPaused(): boolean {
    if (this.state === 'probe') return this.probeSent
    if (this.state === 'snapshot') return true
    return this.inflight.length >= MAX_INFLIGHT_MESSAGES
  }
}
