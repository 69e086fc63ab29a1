/**
 * The in-memory log: an optional snapshot (the compacted prefix) followed by
 * every entry after it. `stable` marks how far the entries are known to be
 * persisted; everything after it goes out in the next `Ready`.
 */
import type { Entry, Snapshot } from './types.ts'

export class RaftLog {
  /** The compacted prefix; index 0 / term 0 when nothing was compacted. */
  snapshot: Snapshot
  /** entries[i] has index snapshot.index + 1 + i. */
  entries: Entry[]
  committed: number
  /** Entries up to here have been handed to the app for applying. */
  applied: number
  /** Entries up to here are persisted. */
  stable: number
  /** A snapshot received from the leader, not yet persisted/restored by the app. */
  pendingSnapshot: Snapshot | null = null

  constructor(snapshot: Snapshot, entries: Entry[], committed: number) {
    this.snapshot = snapshot
    this.entries = entries
    this.committed = Math.max(committed, snapshot.index)
    this.applied = snapshot.index
    this.stable = this.lastIndex()
  }

  firstIndex(): number {
    return this.snapshot.index + 1
  }

  lastIndex(): number {
    return this.snapshot.index + this.entries.length
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0
  }

  /** Term of the entry at `index`, or undefined if compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.snapshot.index) return this.snapshot.term
    if (index < this.snapshot.index || index > this.lastIndex()) return undefined
    return this.entries[index - this.snapshot.index - 1].term
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapshot.index || index > this.lastIndex()) return undefined
    return this.entries[index - this.snapshot.index - 1]
  }

  /** Entries in [lo, hi], at most `maxBytes` of data (always at least one entry when lo <= hi). */
  slice(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    const out: Entry[] = []
    let bytes = 0
    for (let i = lo; i <= hi; i++) {
      const e = this.entry(i)
      if (!e) break
      bytes += e.data.byteLength + 24
      if (out.length > 0 && bytes > maxBytes) break
      out.push(e)
    }
    return out
  }

  /** Raft §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up-to-date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm()
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex())
  }

  /** Append at the end (leader path). */
  append(entries: Entry[]): void {
    this.entries.push(...entries)
  }

  /**
   * Follower path: entries follow (prevIndex, prevTerm), which already matched.
   * Skips entries we already have, truncates at the first conflict, appends
   * the rest. Returns the index of the last new entry.
   */
  maybeAppend(prevIndex: number, entries: Entry[]): number {
    for (const e of entries) {
      if (e.index <= this.snapshot.index) continue // already compacted, hence committed and equal
      const mine = this.term(e.index)
      if (mine === e.term) continue
      if (mine !== undefined) {
        if (e.index <= this.committed) throw new Error(`raft: conflict at committed index ${e.index}`)
        this.truncateFrom(e.index)
      }
      this.entries.push(...entries.slice(entries.indexOf(e)))
      break
    }
    return prevIndex + entries.length
  }

  private truncateFrom(index: number): void {
    this.entries.length = index - this.snapshot.index - 1
    this.stable = Math.min(this.stable, index - 1)
  }

  commitTo(index: number): void {
    if (index > this.committed) {
      if (index > this.lastIndex())
        throw new Error(`raft: commit ${index} beyond last index ${this.lastIndex()}`)
      this.committed = index
    }
  }

  /**
   * Hint for a rejected append at (index, term): the largest index <= index
   * whose term is <= term. The leader can skip everything after it.
   */
  conflictHint(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex())
    while (i > this.snapshot.index) {
      const t = this.term(i)
      if (t !== undefined && t <= term) break
      i--
    }
    return i
  }

  /** Replace everything with a snapshot from the leader. */
  restore(snapshot: Snapshot): void {
    this.snapshot = snapshot
    this.entries = []
    this.committed = snapshot.index
    this.stable = snapshot.index
    this.pendingSnapshot = snapshot
  }

  /** Drop entries up to `snapshot.index` (which must be applied). Keeps the tail. */
  compact(snapshot: Snapshot): void {
    const drop = snapshot.index - this.snapshot.index
    this.entries = this.entries.slice(drop)
    this.snapshot = snapshot
  }

  unstableEntries(): Entry[] {
    return this.entries.slice(Math.max(0, this.stable - this.snapshot.index))
  }

  /** Committed entries not yet handed to the app. */
  nextCommitted(): Entry[] {
    if (this.pendingSnapshot) return []
    return this.slice(this.applied + 1, this.committed)
  }
}
