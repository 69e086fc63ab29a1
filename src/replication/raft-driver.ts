/**
 * The I/O shell around the pure Raft core (src/raft/raft.ts): ticks it on a
 * real interval, feeds it inbound messages and proposals, and runs the
 * ready loop — persist (fsync) → send → apply → advance — one ready at a
 * time, so a vote or an append acknowledgement never leaves this node
 * before what it promises is on disk.
 */

import type { Message } from '../raft/messages.ts'
import { Raft } from '../raft/raft.ts'
import { mathRandom, type Random } from '../raft/random.ts'
import type { RaftStorage } from '../raft/storage.ts'
import type { ConfChange, ConfState, Entry, Snapshot, SoftState } from '../raft/types.ts'
import { log } from '../shared/logger.ts'
import { MAX_APPEND_BYTES } from './wire.ts'

const logger = log('replication')

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown
  clearInterval(handle: unknown): void
}

const realTimers: Timers = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
}

export interface RaftDriverInit {
  selfId: string
  electionTicks: number
  heartbeatTicks: number
  tickMs: number
  /** Take an app snapshot and compact the log after this many applied entries. Default 1000. */
  compactEvery?: number
  random?: Random
}

export interface RaftDriverComponents {
  storage: RaftStorage
  send: (message: Message) => void
  /** A snapshot to restore (from the leader), then committed entries to apply, in order. */
  apply: (snapshot: Snapshot | null, committed: Entry[]) => void
  /** The app state as of the last applied entry, for compaction. */
  takeSnapshot: () => Uint8Array
  onSoftState: (soft: SoftState, term: number) => void
  /** Persisting failed: the node can no longer take part safely. */
  onFatal: (err: Error) => void
  timers?: Timers
}

export class RaftDriver {
  readonly raft: Raft
  readonly #init: RaftDriverInit
  readonly #c: RaftDriverComponents
  readonly #timers: Timers
  #interval: unknown
  #running = false
  #busy = false
  #lastSoft: SoftState = { leader: null, role: 'follower' }
  #lastTerm = -1
  #idle: Array<() => void> = []

  constructor(init: RaftDriverInit, components: RaftDriverComponents) {
    this.#init = init
    this.#c = components
    this.#timers = components.timers ?? realTimers
    const disk = components.storage.initialState()
    this.raft = new Raft(
      {
        id: init.selfId,
        electionTick: init.electionTicks,
        heartbeatTick: init.heartbeatTicks,
        preVote: true,
        checkQuorum: true,
        maxBytesPerMessage: MAX_APPEND_BYTES,
        random: init.random ?? mathRandom,
      },
      {
        hardState: disk.hardState,
        snapshot: disk.snapshot,
        entries: disk.entries,
      },
    )
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#interval = this.#timers.setInterval(() => this.tick(), this.#init.tickMs)
    this.#kick()
  }

  stop(): void {
    if (!this.#running) return
    this.#running = false
    this.#timers.clearInterval(this.#interval)
  }

  get running(): boolean {
    return this.#running
  }

  tick(): void {
    if (!this.#running) return
    this.raft.tick()
    this.#kick()
  }

  step(message: Message): void {
    if (!this.#running) return
    this.raft.step(message)
    this.#kick()
  }

  /** Throws NotLeaderError / ProposalDroppedError synchronously. */
  propose(data: Uint8Array): { index: number; term: number } {
    const at = this.raft.propose(data)
    this.#kick()
    return at
  }

  proposeConfChange(change: ConfChange): { index: number; term: number } {
    const at = this.raft.proposeConfChange(change)
    this.#kick()
    return at
  }

  transferLeadership(to: string): void {
    this.raft.transferLeadership(to)
    this.#kick()
  }

  campaign(): void {
    this.raft.campaign()
    this.#kick()
  }

  /** `peer`'s connection dropped: if it led us, a successor is elected without waiting out its lease. */
  leaderUnreachable(peer: string): void {
    if (!this.#running) return
    this.raft.leaderUnreachable(peer)
    this.#kick()
  }

  get conf(): ConfState {
    return this.raft.conf
  }

  /** Resolves once the ready being processed (if any) is persisted, sent and applied. */
  settled(): Promise<void> {
    if (!this.#busy) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  #kick(): void {
    if (this.#busy || !this.#running) return
    this.#busy = true
    void this.#loop()
  }

  async #loop(): Promise<void> {
    try {
      while (this.#running && this.raft.hasReady()) {
        const rd = this.raft.ready()
        this.#reportSoftState(rd.softState)
        await this.#c.storage.save(rd)
        for (const m of rd.messages) this.#c.send(m)
        if (rd.snapshot !== null || rd.committed.length > 0) this.#c.apply(rd.snapshot, rd.committed)
        this.raft.advance(rd)
        await this.#maybeCompact()
      }
      this.#reportSoftState(this.raft.softState())
    } catch (err) {
      logger('raft ready loop failed: %s', (err as Error).message)
      this.stop()
      this.#c.onFatal(err as Error)
    } finally {
      this.#busy = false
      const idle = this.#idle
      this.#idle = []
      for (const resolve of idle) resolve()
    }
    // A step or tick may have arrived while the last save was in flight.
    if (this.#running && this.raft.hasReady()) this.#kick()
  }

  #reportSoftState(soft: SoftState): void {
    if (
      soft.leader === this.#lastSoft.leader &&
      soft.role === this.#lastSoft.role &&
      this.raft.term === this.#lastTerm
    )
      return
    this.#lastSoft = { ...soft }
    this.#lastTerm = this.raft.term
    this.#c.onSoftState(soft, this.raft.term)
  }

  async #maybeCompact(): Promise<void> {
    const log = this.raft.log
    if (log.applied - log.snapshot.index < (this.#init.compactEvery ?? 1000)) return
    const snapshot = this.raft.compact(log.applied, this.#c.takeSnapshot())
    await this.#c.storage.saveSnapshot(snapshot)
  }
}
