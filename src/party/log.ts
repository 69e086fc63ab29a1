/**
 * The party's command log. `PartyLog` is the contract the party service
 * talks to; `createLeaderLog` is today's implementation — the host orders and
 * commits every command by itself. The next step swaps in a Raft-replicated
 * log (src/raft) behind the same interface: propose on the leader, learn
 * commits everywhere.
 *
 * `PartyReplica` is what every member (host included) keeps: the state after
 * each committed entry, plus a short history so `stateAt(partyTime)` answers
 * what is in force at a party time — entries are stamped to take effect a
 * little in the future and must not be heard early.
 */
import { applyCommand, type CommandResult, type PartyLogEntry, type PartyState } from './state.ts'

export interface CommittedEntry {
  index: number
  entry: PartyLogEntry
  result: CommandResult
  /** State after applying this entry. */
  state: PartyState
}

export interface PartyLog {
  /** Orders `entry` into the log; resolves once it is committed, with the state machine's verdict. */
  propose(
    entry: PartyLogEntry,
    options?: { signal?: AbortSignal },
  ): Promise<{ index: number; result: CommandResult }>
  /** Called for every committed entry, in index order. Returns an unsubscribe function. */
  onCommitted(cb: (committed: CommittedEntry) => void): () => void
  /** Index of the last committed entry (0 = none). */
  readonly commitIndex: number
  /** State after the last committed entry. */
  readonly state: PartyState
  /** Committed entries after `index`, or undefined when they were compacted (send a snapshot instead). */
  entriesAfter(index: number): CommittedEntry[] | undefined
}

export interface LeaderLogInit {
  initialState: PartyState
  /** Committed entries kept for members catching up (older ones: snapshot). Default 1000. */
  retain?: number
}

export function createLeaderLog(init: LeaderLogInit): PartyLog {
  const retain = init.retain ?? 1000
  const recent: CommittedEntry[] = []
  const listeners = new Set<(c: CommittedEntry) => void>()
  let state = init.initialState
  let commitIndex = 0

  return {
    get commitIndex() {
      return commitIndex
    },
    get state() {
      return state
    },
    async propose(entry, options) {
      options?.signal?.throwIfAborted()
      const outcome = applyCommand(state, entry)
      commitIndex += 1
      state = outcome.state
      const committed: CommittedEntry = { index: commitIndex, entry, result: outcome.result, state }
      recent.push(committed)
      if (recent.length > retain) recent.shift()
      for (const cb of listeners) cb(committed)
      return { index: commitIndex, result: outcome.result }
    },
    onCommitted(cb) {
      listeners.add(cb)
      return () => listeners.delete(cb)
    },
    entriesAfter(index) {
      if (index >= commitIndex) return []
      const first = recent[0]
      if (first === undefined || first.index > index + 1) return undefined
      return recent.slice(index + 1 - first.index)
    },
  }
}

export class GapError extends Error {
  constructor(have: number, got: number) {
    super(`log gap: have entry ${have}, received ${got}`)
    this.name = 'GapError'
  }
}

/** A member's copy of the party: snapshot + committed entries applied in order. */
export class PartyReplica {
  #state: PartyState
  #index: number
  /** States in force from a party time on; the last few only (older ones are settled). */
  #history: Array<{ from: number; state: PartyState }> = []

  constructor(snapshot: PartyState, index: number) {
    this.#state = snapshot
    this.#index = index
    this.#history.push({ from: Number.NEGATIVE_INFINITY, state: snapshot })
  }

  get index(): number {
    return this.#index
  }

  /** Latest committed state (including changes that take effect later). */
  get state(): PartyState {
    return this.#state
  }

  /**
   * Applies committed entry `index`. Returns the state machine's verdict. Throws
   * `GapError` when an entry is missing (the member must resync from a snapshot);
   * ignores entries it already has.
   */
  apply(index: number, entry: PartyLogEntry): CommandResult | undefined {
    if (index <= this.#index) return undefined
    if (index !== this.#index + 1) throw new GapError(this.#index, index)
    const outcome = applyCommand(this.#state, entry)
    this.#state = outcome.state
    this.#index = index
    if (outcome.state !== this.#history.at(-1)?.state) {
      this.#history.push({ from: entry.effectivePartyTime, state: outcome.state })
      if (this.#history.length > 64) this.#history.shift()
    }
    return outcome.result
  }

  /** The state in force at `partyTime`: entries stamped later are not heard yet. */
  stateAt(partyTime: number): PartyState {
    for (let i = this.#history.length - 1; i >= 0; i--) {
      if (this.#history[i].from <= partyTime) return this.#history[i].state
    }
    return this.#history[0].state
  }

  /** Party time of the next change that is committed but not yet in force at `partyTime`, if any. */
  nextChangeAfter(partyTime: number): number | undefined {
    for (const h of this.#history) if (h.from > partyTime) return h.from
    return undefined
  }
}
