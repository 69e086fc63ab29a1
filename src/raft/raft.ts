/**
 * Raft as a pure state machine, after etcd-io/raft's design: inputs are
 * messages (`step`), ticks (`tick`) and proposals; outputs accumulate until
 * the shell collects them with `ready()`, persists what it says, sends the
 * messages, applies the committed entries, and calls `advance(ready)`.
 * No clock, no I/O; randomness (election timeouts) comes from `random`.
 *
 * Membership: each node uses the latest configuration in its log, committed
 * or not (Raft dissertation §4.1), reverting if that entry is truncated. A
 * leader accepts a conf change only when the previous one is committed and it
 * has committed an entry of its own term (the fix to the single-server
 * change bug). A leader cannot remove itself: transfer leadership first.
 */

import { InvalidInputError } from '../shared/errors.ts'
import { InvalidConfChangeError, NotLeaderError, ProposalDroppedError } from './errors.ts'
import { RaftLog } from './log.ts'
import type {
  AppendMessage,
  AppendResponse,
  Message,
  SnapshotMessage,
  VoteRequest,
  VoteResponse,
} from './messages.ts'
import { Progress } from './progress.ts'
import { committedIndex, quorumSize, voteResult } from './quorum.ts'
import type { Random } from './random.ts'
import type { ConfChange, ConfState, Entry, HardState, NodeId, Role, Snapshot, SoftState } from './types.ts'
import { decodeConfState, encodeConfState, MAX_ENTRY_BYTES } from './types.ts'

export interface RaftOptions {
  id: NodeId
  /** Followers campaign after a random number of ticks in (electionTick, 2*electionTick]. */
  electionTick?: number
  heartbeatTick?: number
  /** Ask for pre-votes before raising the term, so a rejoining partitioned node does not disrupt. */
  preVote?: boolean
  /** A leader steps down when it has not heard from a quorum within an election timeout. */
  checkQuorum?: boolean
  /** Upper bound on entry bytes per append message. */
  maxBytesPerMessage?: number
  random: Random
}

/** What the node found on disk (all optional: a fresh node has nothing). */
export interface RaftInitialState {
  hardState?: HardState
  snapshot?: Snapshot
  entries?: Entry[]
  /** For a brand-new node founding a group: its first configuration (ignored if anything is persisted). */
  bootstrap?: ConfState
}

export interface Ready {
  softState: SoftState
  /** Persist before sending `messages` (null: unchanged). */
  hardState: HardState | null
  /** Append to the log before sending `messages`; may overwrite persisted entries at the same indexes. */
  entries: Entry[]
  /** A snapshot from the leader: persist it (replacing the log) and restore the app state from it. */
  snapshot: Snapshot | null
  /** Apply these to the app, in order (after persisting). Skip `noop`; `conf` entries are informational. */
  committed: Entry[]
  messages: Message[]
}

export interface Proposed {
  index: number
  term: number
}

const EMPTY_CONF: ConfState = { voters: [], learners: [] }
const EMPTY = new Uint8Array(0)

export class Raft {
  readonly id: NodeId
  term = 0
  vote: NodeId | null = null
  role: Role = 'follower'
  leader: NodeId | null = null
  readonly log: RaftLog
  conf: ConfState = EMPTY_CONF
  /** Leader only: one entry per member other than... every member, self included. */
  progress = new Map<NodeId, Progress>()
  leadTransferee: NodeId | null = null

  readonly #electionTick: number
  readonly #heartbeatTick: number
  readonly #preVote: boolean
  readonly #checkQuorum: boolean
  readonly #maxBytes: number
  readonly #random: Random
  #electionElapsed = 0
  #heartbeatElapsed = 0
  /** The shell told us our leader's connection dropped: its lease no longer holds here. */
  #leaderLost = false
  /** Ticks since `#leaderLost` was set; what the dead leader sent just before dying may still arrive in the first. */
  #leaderLostTicks = 0
  #randomizedTimeout = 0
  #votes = new Map<NodeId, boolean>()
  /** Conf entries in the log after the snapshot, oldest first. */
  #confHistory: Array<{ index: number; conf: ConfState }> = []
  /** Index of the noop a leader appended on election; conf changes wait until it commits. */
  #leaderStartIndex = 0
  #messages: Message[] = []
  #persisted: HardState

  constructor(options: RaftOptions, init: RaftInitialState = {}) {
    this.id = options.id
    this.#electionTick = options.electionTick ?? 10
    this.#heartbeatTick = options.heartbeatTick ?? 1
    this.#preVote = options.preVote ?? true
    this.#checkQuorum = options.checkQuorum ?? true
    this.#maxBytes = options.maxBytesPerMessage ?? 256 * 1024
    this.#random = options.random
    if (this.#heartbeatTick >= this.#electionTick)
      throw new Error('raft: heartbeatTick must be < electionTick')

    const snapshot = init.snapshot ?? { index: 0, term: 0, conf: EMPTY_CONF, data: EMPTY }
    const hard = init.hardState ?? { term: 0, vote: null, commit: 0 }
    const entries = (init.entries ?? []).filter((e) => e.index > snapshot.index)
    this.log = new RaftLog(snapshot, entries, Math.min(hard.commit, snapshot.index + entries.length))
    this.term = hard.term
    this.vote = hard.vote
    this.#persisted = { ...hard }
    const fresh = !init.hardState && entries.length === 0 && snapshot.index === 0
    if (fresh && init.bootstrap) {
      // Every founding member writes the same first entry, so their logs agree on it.
      this.term = 1
      this.log.append([{ index: 1, term: 1, type: 'conf', data: encodeConfState(init.bootstrap) }])
      this.log.stable = 0
      this.log.committed = 1
    }
    this.#refreshConf(snapshot.index + 1)
    this.#resetRandomizedTimeout()
  }

  // ---- inputs -------------------------------------------------------------

  tick(): void {
    if (this.role === 'leader') this.#tickLeader()
    else this.#tickElection()
  }

  /** Leader only. Returns where the entry will sit; it is committed when an applied entry has this index and term. */
  propose(data: Uint8Array): Proposed {
    if (data.byteLength > MAX_ENTRY_BYTES)
      throw new InvalidInputError(`command of ${data.byteLength} bytes exceeds ${MAX_ENTRY_BYTES}`)
    this.#assertCanPropose()
    return this.#appendOwn('normal', data)
  }

  proposeConfChange(change: ConfChange): Proposed {
    this.#assertCanPropose()
    const lastConf = this.#confHistory.at(-1)?.index ?? 0
    if (lastConf > this.log.committed) throw new ProposalDroppedError('a membership change is still pending')
    if (this.log.committed < this.#leaderStartIndex)
      throw new ProposalDroppedError('new leader has not committed an entry of its term yet')
    const next = applyConfChange(this.conf, change)
    if (change.type === 'removeNode' && change.node === this.id)
      throw new InvalidConfChangeError('the leader cannot remove itself; transfer leadership first')
    return this.#appendOwn('conf', encodeConfState(next))
  }

  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.leader)
    if (to === this.id) return
    if (!this.conf.voters.includes(to)) throw new InvalidConfChangeError(`${to} is not a voter`)
    if (this.leadTransferee === to) return
    this.leadTransferee = to
    this.#electionElapsed = 0 // the transfer is abandoned after an election timeout
    const pr = this.progress.get(to)
    if (pr && pr.match === this.log.lastIndex())
      this.#send({ type: 'timeoutNow', to, from: this.id, term: this.term })
    else this.#sendAppend(to, false)
  }

  /** Start an election now (e.g. a node that knows the leader is gone). */
  campaign(): void {
    if (this.role !== 'leader') this.#campaign(this.#preVote ? 'preVote' : 'vote', false)
  }

  /**
   * The shell saw `peer`'s connection drop (its process died, or its host
   * went down). If `peer` is our leader, stop honouring its lease, so a
   * successor's (pre-)vote is granted at once, and campaign soon: after
   * 1 + 2·rank ticks, rank being our place among the other voters by id, so
   * the survivors try one after another instead of splitting the vote.
   * A false alarm is harmless: our pre-vote is refused by voters that still
   * hear the leader, the term does not move, and the next heartbeat from the
   * leader restores the normal timeout. A learner just forgets the leader
   * until it hears one.
   */
  leaderUnreachable(peer: NodeId): void {
    if (this.role !== 'follower' || this.leader !== peer || peer === this.id) return
    this.#leaderLost = true
    this.#leaderLostTicks = 0
    if (!this.#promotable()) {
      this.leader = null // a learner waits for whoever leads next; the next heartbeat names it
      return
    }
    const rank = this.conf.voters
      .filter((v) => v !== peer)
      .sort()
      .indexOf(this.id)
    const soon = 1 + 2 * rank
    if (this.#randomizedTimeout - this.#electionElapsed > soon) {
      this.#electionElapsed = 0
      this.#randomizedTimeout = soon
    }
  }

  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id) return
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const inLease =
          this.#checkQuorum &&
          this.leader !== null &&
          !this.#leaderLost &&
          this.#electionElapsed < this.#electionTick
        if (inLease && !m.transfer) return // we heard from a live leader: do not let a stray candidate disrupt it
      }
      if (m.type === 'preVote' || (m.type === 'preVoteResponse' && !m.reject)) {
        // a pre-vote never changes terms
      } else if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        this.#becomeFollower(m.term, m.from)
      } else {
        this.#becomeFollower(m.term, null)
      }
    } else if (m.term < this.term) {
      if (m.type === 'append' || m.type === 'heartbeat') {
        // Tell a stale leader about the newer term, so it steps down.
        this.#send({
          type: 'appendResponse',
          to: m.from,
          from: this.id,
          term: this.term,
          index: 0,
          reject: false,
          hintIndex: 0,
        })
      } else if (m.type === 'preVote') {
        this.#send({ type: 'preVoteResponse', to: m.from, from: this.id, term: this.term, reject: true })
      }
      return
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.#handleVoteRequest(m)
      return
    }
    switch (this.role) {
      case 'leader':
        this.#stepLeader(m)
        break
      case 'candidate':
      case 'preCandidate':
        this.#stepCandidate(m)
        break
      case 'follower':
        this.#stepFollower(m)
        break
    }
  }

  // ---- outputs ------------------------------------------------------------

  hasReady(): boolean {
    return (
      this.#messages.length > 0 ||
      this.log.unstableEntries().length > 0 ||
      this.log.pendingSnapshot !== null ||
      this.log.committed > this.log.applied ||
      this.#hardStateChanged()
    )
  }

  ready(): Ready {
    const messages = this.#messages
    this.#messages = []
    return {
      softState: { leader: this.leader, role: this.role },
      hardState: this.#hardStateChanged() ? this.#hardState() : null,
      entries: this.log.unstableEntries(),
      snapshot: this.log.pendingSnapshot,
      committed: this.log.nextCommitted(),
      messages,
    }
  }

  /** The shell persisted, sent and applied `ready`. */
  advance(ready: Ready): void {
    if (ready.hardState) this.#persisted = { ...ready.hardState }
    if (ready.snapshot) {
      if (this.log.pendingSnapshot === ready.snapshot) this.log.pendingSnapshot = null
      this.log.applied = Math.max(this.log.applied, ready.snapshot.index)
      this.log.stable = Math.max(this.log.stable, ready.snapshot.index)
    }
    const lastPersisted = ready.entries.at(-1)
    if (lastPersisted && this.log.term(lastPersisted.index) === lastPersisted.term) {
      this.log.stable = Math.max(this.log.stable, lastPersisted.index)
    }
    const lastApplied = ready.committed.at(-1)
    if (lastApplied) this.log.applied = Math.max(this.log.applied, lastApplied.index)
  }

  /**
   * Compact the log up to `index` (already applied), keeping `data` as the
   * app state at that index. Returns the snapshot for the shell to persist.
   */
  compact(index: number, data: Uint8Array): Snapshot {
    if (index > this.log.applied) throw new Error(`raft: cannot compact unapplied index ${index}`)
    if (index <= this.log.snapshot.index) return this.log.snapshot
    const term = this.log.term(index)
    if (term === undefined) throw new Error(`raft: no entry at ${index}`)
    const snapshot: Snapshot = { index, term, conf: this.#confAt(index), data }
    this.log.compact(snapshot)
    this.#confHistory = this.#confHistory.filter((c) => c.index > index)
    return snapshot
  }

  /**
   * The configuration in force as of the commit index. `conf` is the latest
   * one in the log, which Raft already uses but which may not be replicated
   * yet: wait for `committedConf()` before relying on a change (e.g. before
   * letting the old host go after promoting voters).
   */
  committedConf(): ConfState {
    return this.#confAt(this.log.committed)
  }

  softState(): SoftState {
    return { leader: this.leader, role: this.role }
  }

  // ---- roles --------------------------------------------------------------

  #reset(term: number): void {
    if (term !== this.term) {
      this.term = term
      this.vote = null
    }
    this.leader = null
    this.#leaderLost = false
    this.#electionElapsed = 0
    this.#heartbeatElapsed = 0
    this.#resetRandomizedTimeout()
    this.leadTransferee = null
    this.#votes = new Map()
    this.progress = new Map()
  }

  #becomeFollower(term: number, leader: NodeId | null): void {
    this.#reset(term)
    this.role = 'follower'
    this.leader = leader
  }

  #becomeLeader(): void {
    this.#reset(this.term)
    this.role = 'leader'
    this.leader = this.id
    for (const id of members(this.conf)) this.progress.set(id, new Progress(this.log.lastIndex() + 1))
    const self = this.progress.get(this.id)
    if (self) self.match = this.log.lastIndex()
    this.#leaderStartIndex = this.#appendOwn('noop', EMPTY).index
  }

  #promotable(): boolean {
    return this.conf.voters.includes(this.id)
  }

  #campaign(kind: 'preVote' | 'vote', transfer: boolean): void {
    if (!this.#promotable()) return
    let voteTerm: number
    if (kind === 'preVote') {
      this.role = 'preCandidate'
      this.leader = null
      this.#votes = new Map()
      this.#resetRandomizedTimeout()
      voteTerm = this.term + 1
    } else {
      this.#reset(this.term + 1)
      this.role = 'candidate'
      this.vote = this.id
      voteTerm = this.term
    }
    // A round that fails (usually a split vote) is retried sooner: half to one election
    // timeout. No leader exists then, so nobody is in a lease that this could disturb.
    this.#randomizedTimeout =
      Math.ceil(this.#electionTick / 2) + Math.floor(this.#random.next() * (this.#electionTick / 2 + 1))
    this.#votes.set(this.id, true)
    if (this.#tallyVotes()) return
    for (const to of this.conf.voters) {
      if (to === this.id) continue
      this.#send({
        type: kind,
        to,
        from: this.id,
        term: voteTerm,
        lastIndex: this.log.lastIndex(),
        lastTerm: this.log.lastTerm(),
        transfer,
      })
    }
  }

  /** Returns true when the round is decided. */
  #tallyVotes(): boolean {
    const result = voteResult(this.conf.voters, this.#votes)
    if (result === 'won') {
      if (this.role === 'preCandidate') this.#campaign('vote', false)
      else this.#becomeLeader()
      return true
    }
    if (result === 'lost') {
      this.#becomeFollower(this.term, null)
      return true
    }
    return false
  }

  #handleVoteRequest(m: VoteRequest): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leader === null) ||
      (m.type === 'preVote' && m.term > this.term)
    const type = m.type === 'vote' ? 'voteResponse' : 'preVoteResponse'
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      this.#send({ type, to: m.from, from: this.id, term: m.term, reject: false })
      if (m.type === 'vote') {
        this.#electionElapsed = 0
        this.vote = m.from
      } else if (this.#leaderLost && this.role === 'follower') {
        // A successor is trying: give its vote round our head start again rather than split the vote.
        this.#electionElapsed = 0
      }
    } else {
      this.#send({ type, to: m.from, from: this.id, term: this.term, reject: true })
    }
  }

  #tickElection(): void {
    this.#electionElapsed++
    if (this.#leaderLost) this.#leaderLostTicks++
    if (this.#electionElapsed < this.#randomizedTimeout) return
    this.#electionElapsed = 0
    if (this.#promotable()) this.#campaign(this.#preVote ? 'preVote' : 'vote', false)
    else this.leader = null // a learner cannot elect anyone, but it stops naming a leader it no longer hears
  }

  #tickLeader(): void {
    this.#electionElapsed++
    this.#heartbeatElapsed++
    if (this.#electionElapsed >= this.#electionTick) {
      this.#electionElapsed = 0
      if (this.#checkQuorum && !this.#quorumActive()) {
        this.#becomeFollower(this.term, null)
        return
      }
      this.leadTransferee = null
    }
    for (const [id, pr] of this.progress) {
      if (pr.state === 'snapshot' && ++pr.snapshotTicks >= this.#electionTick) {
        pr.becomeProbe() // the snapshot or its answer was lost: try again
        this.#sendAppend(id, false)
      }
    }
    if (this.#heartbeatElapsed >= this.#heartbeatTick) {
      this.#heartbeatElapsed = 0
      for (const [to, pr] of this.progress) {
        if (to === this.id) continue
        const commit = Math.min(pr.match, this.log.committed)
        this.#send({ type: 'heartbeat', to, from: this.id, term: this.term, commit })
      }
    }
  }

  #quorumActive(): boolean {
    let active = 0
    for (const id of this.conf.voters) {
      const pr = this.progress.get(id)
      if (id === this.id || pr?.recentActive) active++
    }
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false
    return active >= quorumSize(this.conf.voters)
  }

  // ---- leader ---------------------------------------------------------------

  #assertCanPropose(): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.leader)
    if (this.leadTransferee !== null) throw new ProposalDroppedError('leadership transfer in progress')
  }

  #appendOwn(type: Entry['type'], data: Uint8Array): Proposed {
    const index = this.log.lastIndex() + 1
    this.log.append([{ index, term: this.term, type, data }])
    if (type === 'conf') this.#refreshConf(index)
    const self = this.progress.get(this.id)
    if (self) self.maybeUpdate(index)
    this.#maybeCommit()
    for (const id of this.progress.keys()) if (id !== this.id) this.#sendAppend(id, true)
    return { index, term: this.term }
  }

  #maybeCommit(): boolean {
    const index = committedIndex(this.conf.voters, (id) => this.progress.get(id)?.match ?? 0)
    // §5.4.2: only entries of the current term are committed by counting replicas.
    if (index > this.log.committed && this.log.term(index) === this.term) {
      this.log.commitTo(index)
      return true
    }
    return false
  }

  #sendAppend(to: NodeId, sendIfEmpty: boolean): void {
    const pr = this.progress.get(to)
    if (!pr || pr.isPaused()) return
    const prevIndex = pr.next - 1
    const prevTerm = this.log.term(prevIndex)
    if (prevTerm === undefined) {
      // What the follower needs was compacted away: send the snapshot.
      const snapshot = this.log.snapshot
      pr.becomeSnapshot(snapshot.index)
      this.#send({ type: 'snapshot', to, from: this.id, term: this.term, snapshot })
      return
    }
    const entries = this.log.slice(pr.next, this.log.lastIndex(), this.#maxBytes)
    if (entries.length === 0 && !sendIfEmpty) return
    this.#send({
      type: 'append',
      to,
      from: this.id,
      term: this.term,
      index: prevIndex,
      logTerm: prevTerm,
      entries,
      commit: this.log.committed,
    })
    pr.sentEntries(prevIndex + entries.length, entries.length)
  }

  #stepLeader(m: Message): void {
    const pr = this.progress.get(m.from)
    if (!pr) return
    if (m.type === 'appendResponse') {
      pr.recentActive = true
      this.#handleAppendResponse(m, pr)
    } else if (m.type === 'heartbeatResponse') {
      pr.recentActive = true
      if (pr.state === 'probe') pr.probeSent = false
      else if (pr.state === 'replicate' && pr.isPaused()) pr.inflight.shift()
      if (pr.match < this.log.lastIndex()) this.#sendAppend(m.from, true)
    }
  }

  #handleAppendResponse(m: AppendResponse, pr: Progress): void {
    if (m.reject) {
      if (pr.maybeDecrease(m.index, m.hintIndex)) {
        if (pr.state === 'replicate') pr.becomeProbe()
        this.#sendAppend(m.from, true)
      }
      return
    }
    const wasPaused = pr.isPaused()
    if (pr.maybeUpdate(m.index)) {
      if (pr.state !== 'replicate') pr.becomeReplicate()
      if (this.#maybeCommit()) {
        for (const id of this.progress.keys()) if (id !== this.id) this.#sendAppend(id, true)
      } else if (wasPaused) {
        this.#sendAppend(m.from, true) // it was waiting on us: bring its commit index up to date too
      }
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
        this.#send({ type: 'timeoutNow', to: m.from, from: this.id, term: this.term })
      }
    }
    this.#sendAppend(m.from, false)
  }

  // ---- candidate / follower -------------------------------------------------

  #stepCandidate(m: Message): void {
    if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
      this.#becomeFollower(m.term, m.from)
      this.#stepFollower(m)
      return
    }
    const expected = this.role === 'candidate' ? 'voteResponse' : 'preVoteResponse'
    // A pre-vote answer counts only for the round at term+1 (a stale grant from an older round must not).
    const roundTerm = this.role === 'candidate' ? this.term : this.term + 1
    if (m.type !== expected) return
    const reject = (m as VoteResponse).reject
    if (reject || m.term === roundTerm) {
      this.#votes.set(m.from, !reject)
      this.#tallyVotes()
    }
  }

  #stepFollower(m: Message): void {
    const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot'
    if (fromLeader && this.#leaderLost && this.#leaderLostTicks > 0) {
      this.#leaderLost = false // the leader still speaks a tick later: a false alarm, normal timeout again
      this.#resetRandomizedTimeout()
    }
    switch (m.type) {
      case 'append':
        this.#electionElapsed = 0
        this.leader = m.from
        this.#handleAppend(m)
        break
      case 'heartbeat':
        this.#electionElapsed = 0
        this.leader = m.from
        this.log.commitTo(Math.min(m.commit, this.log.lastIndex()))
        this.#send({ type: 'heartbeatResponse', to: m.from, from: this.id, term: this.term })
        break
      case 'snapshot':
        this.#electionElapsed = 0
        this.leader = m.from
        this.#handleSnapshot(m)
        break
      case 'timeoutNow':
        this.#campaign('vote', true)
        break
    }
  }

  #respond(to: NodeId, index: number, reject: boolean, hintIndex: number): void {
    this.#send({ type: 'appendResponse', to, from: this.id, term: this.term, index, reject, hintIndex })
  }

  #handleAppend(m: AppendMessage): void {
    if (m.index < this.log.committed) {
      this.#respond(m.from, this.log.committed, false, 0)
      return
    }
    if (this.log.matchTerm(m.index, m.logTerm)) {
      const lastNew = this.log.maybeAppend(m.index, m.entries)
      this.#refreshConf(m.index + 1)
      this.log.commitTo(Math.min(m.commit, lastNew))
      this.#respond(m.from, lastNew, false, 0)
    } else {
      this.#respond(m.from, m.index, true, this.log.conflictHint(m.index, m.logTerm))
    }
  }

  #handleSnapshot(m: SnapshotMessage): void {
    const s = m.snapshot
    if (s.index <= this.log.committed) {
      this.#respond(m.from, this.log.committed, false, 0)
    } else if (this.log.matchTerm(s.index, s.term)) {
      this.log.commitTo(s.index) // we already have this prefix: just learn it is committed
      this.#respond(m.from, s.index, false, 0)
    } else {
      this.log.restore(s)
      this.#confHistory = []
      this.#refreshConf(s.index + 1)
      this.#respond(m.from, s.index, false, 0)
    }
  }

  // ---- membership -----------------------------------------------------------

  /** Forget conf entries at or after `from` and rescan the log from there. */
  #refreshConf(from: number): void {
    this.#confHistory = this.#confHistory.filter((c) => c.index < from)
    for (let i = Math.max(from, this.log.firstIndex()); i <= this.log.lastIndex(); i++) {
      const e = this.log.entry(i)
      if (e?.type === 'conf') this.#confHistory.push({ index: i, conf: decodeConfState(e.data) })
    }
    const conf = this.#confHistory.at(-1)?.conf ?? this.log.snapshot.conf
    this.conf = conf
    if (this.role === 'leader') {
      for (const id of members(conf)) {
        if (!this.progress.has(id)) this.progress.set(id, new Progress(this.log.lastIndex()))
      }
      for (const id of [...this.progress.keys()]) if (!members(conf).includes(id)) this.progress.delete(id)
    }
  }

  #confAt(index: number): ConfState {
    let conf = this.log.snapshot.conf
    for (const c of this.#confHistory) if (c.index <= index) conf = c.conf
    return conf
  }

  // ---- plumbing -------------------------------------------------------------

  #send(m: Message): void {
    this.#messages.push(m)
  }

  /**
   * In (electionTick, 2*electionTick]: strictly more than the lease, so when a
   * follower times out, the others (ticking at slightly different phases)
   * have also let their lease on the dead leader lapse and answer its pre-vote.
   */
  #resetRandomizedTimeout(): void {
    this.#randomizedTimeout = this.#electionTick + 1 + Math.floor(this.#random.next() * this.#electionTick)
  }

  #hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed }
  }

  #hardStateChanged(): boolean {
    const p = this.#persisted
    return p.term !== this.term || p.vote !== this.vote || p.commit !== this.log.committed
  }
}

function members(conf: ConfState): NodeId[] {
  return [...conf.voters, ...conf.learners]
}

/** The configuration after one single-server change; throws on a change that makes no sense. */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const isVoter = conf.voters.includes(change.node)
  const isLearner = conf.learners.includes(change.node)
  switch (change.type) {
    case 'addVoter':
      if (isVoter) throw new InvalidConfChangeError(`${change.node} is already a voter`)
      return {
        voters: [...conf.voters, change.node],
        learners: conf.learners.filter((n) => n !== change.node),
      }
    case 'addLearner':
      if (isVoter) throw new InvalidConfChangeError(`${change.node} is a voter; remove it first`)
      if (isLearner) throw new InvalidConfChangeError(`${change.node} is already a learner`)
      return { voters: conf.voters, learners: [...conf.learners, change.node] }
    case 'removeNode':
      if (!isVoter && !isLearner) throw new InvalidConfChangeError(`${change.node} is not a member`)
      return {
        voters: conf.voters.filter((n) => n !== change.node),
        learners: conf.learners.filter((n) => n !== change.node),
      }
  }
}
