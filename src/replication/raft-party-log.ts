/**
 * The party's command log replicated with Raft over libp2p: a `PartyLog`
 * (src/party/log.ts) that survives its host. The leader orders commands;
 * `propose` resolves only once the entry is committed (on a quorum of
 * voters' disks) and applied; every member applies the same entries in the
 * same order with `applyCommand`, so every replica holds the same state.
 *
 * Proposals on a follower are refused with `NotLeaderError` (carrying the
 * leader's id) rather than forwarded: the party service already routes a
 * member's command to the host, and host = Raft leader; a hidden forward
 * would add a second path whose lost replies cannot be retried safely.
 *
 * Members who join late or fall behind the compacted log receive a snapshot
 * of the party state. At most five members vote; the leader moves everyone
 * else to learners and replaces failed voters (voters.ts).
 */
import { join } from 'node:path'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { CommittedEntry, PartyLog } from '../party/log.ts'
import { applyCommand, type CommandResult, type PartyLogEntry, type PartyState } from '../party/state.ts'
import { NotLeaderError, ProposalDroppedError } from '../raft/errors.ts'
import { openRaftStorage, type RaftStorage } from '../raft/storage.ts'
import type { Entry, Role, Snapshot, SoftState } from '../raft/types.ts'
import type { Clock } from '../shared/clock.ts'
import { AbortedError } from '../shared/errors.ts'
import { TypedEmitter } from '../shared/events.ts'
import { log } from '../shared/logger.ts'
import { decodeEntry, decodeSnapshot, encodeEntry, encodeSnapshot } from './codec.ts'
import {
  CommitUnknownError,
  LogStoppedError,
  NotSyncedError,
  ProposalLostError,
  TransferFailedError,
} from './errors.ts'
import { RaftDriver, type Timers } from './raft-driver.ts'
import { RaftTransport, type RaftTransportStats } from './raft-transport.ts'
import { type MemberHealth, memberHealth, nextMembershipChange, rankCandidates } from './voters.ts'

const logger = log('replication')

export interface RaftPartyLogInit {
  partyId: string
  /** Our libp2p peer id, as a string. */
  selfId: string
  /** Where this party's Raft state lives (a subdirectory per party is made). */
  dataDir: string
  /**
   * Found the party with this state (ignored when the data directory
   * already holds the party: a restart resumes from disk). Without it the
   * node joins an existing group and waits for the leader's snapshot.
   */
  initialState?: PartyState
  /** The founding voters (all founders pass the same list and state). Default `[selfId]`. */
  founders?: string[]
  /** Peers to accept Raft streams from before the party state is known (the inviting host). */
  knownPeers?: string[]
  /** Election timeout: random in (electionTicks, 2·electionTicks] ticks after the last heartbeat. Default 10. */
  electionTicks?: number
  /** Default 2. */
  heartbeatTicks?: number
  /** Default 50 ms: a killed leader is replaced within 0.5–1 s plus a round trip. */
  tickMs?: number
  /** Committed entries kept for `entriesAfter`. Default 1000. */
  retain?: number
  /** Compact the Raft log into a snapshot every this many entries. Default 1000. */
  compactEvery?: number
  /** Let the leader pick voters and learners from the party's members. Default true. */
  manageMembership?: boolean
}

export interface RaftPartyLogComponents {
  /**
   * With `addEventListener`, a follower that sees its leader's last
   * connection close (peer:disconnect: the process died) elects a successor
   * at once instead of waiting out the election timeout.
   */
  libp2p: Pick<Libp2p, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol' | 'peerStore'> &
    Partial<Pick<Libp2p, 'addEventListener' | 'removeEventListener'>>
  clock: Clock
  timers?: Timers
  /**
   * Round-trip times (ms) to members as the party measures them (the host's
   * pings): the leader prefers low-RTT members as voters.
   */
  rtts?: () => ReadonlyMap<string, number>
}

export type ReplicaRole = Role | 'learner'
export type MemberHealthState = 'self' | 'healthy' | 'unreachable' | 'unknown'

export interface ReplicationMember {
  peerId: string
  role: 'voter' | 'learner'
  health: MemberHealthState
}

export interface RaftPartyLogEvents extends Record<string, unknown> {
  'leader:changed': { leader: string | undefined; term: number }
  'role:changed': { role: ReplicaRole; term: number }
  /** The state was replaced by a leader's snapshot: party indexes jumped to `index`. */
  'snapshot:installed': { index: number; state: PartyState }
  /** Persisting failed; the replica stopped taking part. */
  fatal: { error: Error }
}

export interface RaftPartyLog extends PartyLog {
  start(options?: { signal?: AbortSignal }): Promise<void>
  /** Stops; a leader first hands leadership to another voter (unless `handOff: false`). */
  stop(options?: { handOff?: boolean }): Promise<void>
  /** Resolves once the party state is known (immediately for a founder or a restart). */
  synced(options?: { signal?: AbortSignal }): Promise<void>
  leader(): string | undefined
  term(): number
  role(): ReplicaRole
  members(): ReplicationMember[]
  /** Leader only: make `to` the leader; resolves once it is. */
  transferLeadership(to: string, options?: { signal?: AbortSignal }): Promise<void>
  /**
   * Also accept Raft streams from these peers (e.g. the party's members as
   * the join reply lists them, so a joiner accepts whoever leads now).
   */
  addKnownPeers(peerIds: string[]): void
  /** If we lead, transfer to the best other voter (graceful leave); no-op otherwise. */
  handOff(options?: { signal?: AbortSignal }): Promise<void>
  /**
   * Party entries in this node's Raft log after the last applied one: not
   * committed yet (or committed and not yet applied). A leader's log holds
   * every entry that may still commit (Raft's leader completeness), so on a
   * node that just took over these are the old leader's proposals it is
   * about to commit; on a follower they may still be replaced.
   */
  unappliedEntries(): PartyLogEntry[]
  on<K extends keyof RaftPartyLogEvents>(type: K, cb: (payload: RaftPartyLogEvents[K]) => void): () => void
  readonly stats: RaftTransportStats
}

interface Pending {
  term: number
  resolve: (value: { index: number; result: CommandResult }) => void
  reject: (err: Error) => void
}

interface PeerSeen {
  firstHeard: number
  lastHeard: number
}

export function createRaftPartyLog(init: RaftPartyLogInit, components: RaftPartyLogComponents): RaftPartyLog {
  return new RaftPartyLogImpl(init, components)
}

class RaftPartyLogImpl implements RaftPartyLog {
  readonly #init: RaftPartyLogInit
  readonly #c: RaftPartyLogComponents
  readonly #events = new TypedEmitter<RaftPartyLogEvents>()
  readonly #listeners = new Set<(c: CommittedEntry) => void>()
  readonly #pending = new Map<number, Pending>()
  readonly #seen = new Map<string, PeerSeen>()
  readonly #transport: RaftTransport
  readonly #electionTicks: number
  readonly #tickMs: number
  #storage: RaftStorage | undefined
  #driver: RaftDriver | undefined
  #state: PartyState | undefined
  #partyIndex = 0
  #recent: CommittedEntry[] = []
  #soft: SoftState = { leader: null, role: 'follower' }
  #term = 0
  #ticks = 0
  #started = false
  #syncWaiters: Array<() => void> = []
  readonly #knownPeers: Set<string>
  readonly #onPeerDisconnect = (event: CustomEvent<PeerId>): void => {
    const peer = event.detail.toString()
    if (peer === this.#soft.leader) logger('lost the connection to our leader %s', peer)
    this.#driver?.leaderUnreachable(peer)
  }

  constructor(init: RaftPartyLogInit, components: RaftPartyLogComponents) {
    this.#init = init
    this.#c = components
    this.#electionTicks = init.electionTicks ?? 10
    this.#tickMs = init.tickMs ?? 50
    this.#knownPeers = new Set(init.knownPeers ?? [])
    this.#transport = new RaftTransport(
      {},
      {
        libp2p: components.libp2p,
        clock: components.clock,
        isMember: (peerId) => this.#isMember(peerId),
        onMessage: (m) => {
          this.#heard(m.from)
          this.#driver?.step(m)
        },
      },
    )
  }

  // ---- lifecycle ------------------------------------------------------------

  async start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#started) return
    const dir = join(this.#init.dataDir, `party-${this.#init.partyId}`)
    let storage = await openRaftStorage(dir, options)
    const disk = storage.initialState()
    const fresh = disk.hardState === undefined && disk.snapshot === undefined && disk.entries.length === 0
    const founding = fresh && this.#init.initialState !== undefined
    if (founding) {
      // The founders' common starting point: a snapshot at index 1 holding the
      // initial state and first configuration. A member that joins later
      // lacks index 1, so the leader sends it this (or a newer) snapshot.
      const snapshot: Snapshot = {
        index: 1,
        term: 1,
        conf: { voters: [...(this.#init.founders ?? [this.#init.selfId])].sort(), learners: [] },
        data: encodeSnapshot({ partyIndex: 0, state: this.#init.initialState as PartyState }),
      }
      await storage.save({ snapshot, entries: [], hardState: { term: 1, vote: null, commit: 1 } }, options)
      await storage.close()
      storage = await openRaftStorage(dir, options)
    }
    const snapshot = storage.initialState().snapshot
    if (snapshot !== undefined) this.#restore(snapshot.data)
    this.#storage = storage
    this.#driver = new RaftDriver(
      {
        selfId: this.#init.selfId,
        electionTicks: this.#electionTicks,
        heartbeatTicks: this.#init.heartbeatTicks ?? 2,
        tickMs: this.#tickMs,
        compactEvery: this.#init.compactEvery,
      },
      {
        storage,
        send: (m) => this.#transport.send(m),
        apply: (snap, committed) => this.#apply(snap, committed),
        takeSnapshot: () =>
          encodeSnapshot({ partyIndex: this.#partyIndex, state: this.#state as PartyState }),
        onSoftState: (soft, term) => this.#onSoftState(soft, term),
        onFatal: (error) => {
          this.#rejectAll(() => error)
          this.#events.emit('fatal', { error })
        },
        timers: {
          setInterval: (fn, ms) =>
            (this.#c.timers ?? globalThis).setInterval(() => {
              fn()
              this.#onTick()
            }, ms),
          clearInterval: (h) => (this.#c.timers ?? globalThis).clearInterval(h as never),
        },
      },
    )
    await this.#transport.start()
    this.#started = true
    this.#driver.start()
    this.#c.libp2p.addEventListener?.('peer:disconnect', this.#onPeerDisconnect)
    const conf = this.#driver.conf
    if (founding && conf.voters.length === 1 && conf.voters[0] === this.#init.selfId) {
      this.#driver.campaign() // a lone founder need not wait out an election timeout
    }
  }

  async stop(options: { handOff?: boolean } = {}): Promise<void> {
    if (!this.#started) return
    if (options.handOff ?? true) {
      await this.handOff({ signal: AbortSignal.timeout(this.#electionTicks * this.#tickMs * 2) }).catch(
        (err: Error) => logger('hand-off on stop failed: %s', err.message),
      )
    }
    this.#started = false
    this.#c.libp2p.removeEventListener?.('peer:disconnect', this.#onPeerDisconnect)
    this.#driver?.stop()
    await this.#driver?.settled()
    await this.#transport.stop()
    await this.#storage?.close()
    this.#rejectAll(() => new LogStoppedError())
  }

  synced(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state !== undefined) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const done = (): void => {
        options.signal?.removeEventListener('abort', abort)
        resolve()
      }
      const abort = (): void => {
        this.#syncWaiters = this.#syncWaiters.filter((w) => w !== done)
        reject(new AbortedError('waiting for the party state was aborted'))
      }
      if (options.signal?.aborted) return abort()
      options.signal?.addEventListener('abort', abort, { once: true })
      this.#syncWaiters.push(done)
    })
  }

  // ---- PartyLog ---------------------------------------------------------------

  get commitIndex(): number {
    return this.#partyIndex
  }

  get state(): PartyState {
    if (this.#state === undefined) throw new NotSyncedError()
    return this.#state
  }

  async propose(
    entry: PartyLogEntry,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ index: number; result: CommandResult }> {
    options.signal?.throwIfAborted()
    const driver = this.#driver
    if (!this.#started || driver === undefined) throw new LogStoppedError()
    const at = driver.propose(encodeEntry(entry)) // throws NotLeaderError on a follower
    return new Promise((resolve, reject) => {
      const abort = (): void => {
        // The entry may still commit; the caller only stops waiting.
        this.#pending.delete(at.index)
        reject(new AbortedError('stopped waiting for the command to commit'))
      }
      options.signal?.addEventListener('abort', abort, { once: true })
      const cleanup = (): void => options.signal?.removeEventListener('abort', abort)
      this.#pending.set(at.index, {
        term: at.term,
        resolve: (v) => {
          cleanup()
          resolve(v)
        },
        reject: (err) => {
          cleanup()
          reject(err)
        },
      })
    })
  }

  onCommitted(cb: (committed: CommittedEntry) => void): () => void {
    this.#listeners.add(cb)
    return () => this.#listeners.delete(cb)
  }

  entriesAfter(index: number): CommittedEntry[] | undefined {
    if (index >= this.#partyIndex) return []
    const first = this.#recent[0]
    if (first === undefined || first.index > index + 1) return undefined
    return this.#recent.slice(index + 1 - first.index)
  }

  // ---- replication view ---------------------------------------------------------

  leader(): string | undefined {
    return this.#soft.leader ?? undefined
  }

  term(): number {
    return this.#term
  }

  role(): ReplicaRole {
    const conf = this.#driver?.conf
    if (this.#soft.role === 'follower' && conf !== undefined && !conf.voters.includes(this.#init.selfId))
      return 'learner'
    return this.#soft.role
  }

  members(): ReplicationMember[] {
    const conf = this.#driver?.conf ?? { voters: [], learners: [] }
    const health = (id: string): MemberHealthState => {
      if (id === this.#init.selfId) return 'self'
      const seen = this.#seen.get(id)
      if (seen === undefined) return 'unknown'
      return this.#isFresh(seen) ? 'healthy' : 'unreachable'
    }
    return [
      ...conf.voters.map((peerId) => ({ peerId, role: 'voter' as const, health: health(peerId) })),
      ...conf.learners.map((peerId) => ({ peerId, role: 'learner' as const, health: health(peerId) })),
    ]
  }

  get stats(): RaftTransportStats {
    return this.#transport.stats
  }

  on<K extends keyof RaftPartyLogEvents>(type: K, cb: (payload: RaftPartyLogEvents[K]) => void): () => void {
    return this.#events.on(type, cb)
  }

  async transferLeadership(to: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const driver = this.#driver
    if (!this.#started || driver === undefined) throw new LogStoppedError()
    if (this.leader() === to) return
    driver.transferLeadership(to) // throws NotLeaderError / InvalidConfChangeError
    const limit = AbortSignal.timeout(this.#electionTicks * this.#tickMs * 2)
    const signal = options.signal ? AbortSignal.any([options.signal, limit]) : limit
    await new Promise<void>((resolve, reject) => {
      const off = this.#events.on('leader:changed', ({ leader }) => {
        if (leader !== to) return
        finish()
        resolve()
      })
      const abort = (): void => {
        finish()
        reject(
          options.signal?.aborted
            ? new AbortedError('leadership transfer aborted')
            : new TransferFailedError(`${to} did not take over within an election timeout`),
        )
      }
      const finish = (): void => {
        off()
        signal.removeEventListener('abort', abort)
      }
      if (signal.aborted) return abort()
      signal.addEventListener('abort', abort, { once: true })
    })
  }

  addKnownPeers(peerIds: string[]): void {
    for (const id of peerIds) this.#knownPeers.add(id)
  }

  async handOff(options: { signal?: AbortSignal } = {}): Promise<void> {
    const driver = this.#driver
    if (driver === undefined || this.#soft.role !== 'leader') return
    const candidates = this.#health().filter(
      (m) => m.peerId !== this.#init.selfId && driver.conf.voters.includes(m.peerId),
    )
    let best = rankCandidates(candidates).find((m) => m.healthy)
    if (best === undefined) {
      // No other voter (a party of two has one): promote the best healthy learner first, then hand to it.
      const learner = rankCandidates(
        this.#health().filter(
          (m) => m.peerId !== this.#init.selfId && driver.conf.learners.includes(m.peerId),
        ),
      ).find((m) => m.healthy)
      if (learner === undefined) return // nobody to hand to: the group ends with us (or waits for us)
      await this.#promote(learner.peerId, options)
      best = learner
    }
    await this.transferLeadership(best.peerId, options)
  }

  /** Leader: make learner `peerId` a voter; resolves once the change is applied here. */
  async #promote(peerId: string, options: { signal?: AbortSignal }): Promise<void> {
    const limit = AbortSignal.timeout(this.#electionTicks * this.#tickMs * 4)
    const signal = options.signal ? AbortSignal.any([options.signal, limit]) : limit
    let proposed = false
    while (!this.#driver?.conf.voters.includes(peerId)) {
      if (signal.aborted) throw new TransferFailedError(`could not make ${peerId} a voter in time`)
      if (!proposed) {
        try {
          this.#driver?.proposeConfChange({ type: 'addVoter', node: peerId })
          proposed = true
        } catch (err) {
          // Another change still pending: wait for it.
          if (!(err instanceof ProposalDroppedError)) throw err
        }
      }
      await new Promise((resolve) => setTimeout(resolve, this.#tickMs))
    }
  }

  unappliedEntries(): PartyLogEntry[] {
    const log = this.#driver?.raft.log
    if (log === undefined) return []
    const out: PartyLogEntry[] = []
    for (const e of log.slice(log.applied + 1, log.lastIndex())) {
      if (e.type !== 'normal') continue
      try {
        out.push(decodeEntry(e.data))
      } catch {} // applied as a no-op by every replica
    }
    return out
  }

  // ---- internals ------------------------------------------------------------------

  #isMember(peerId: string): boolean {
    const conf = this.#driver?.conf
    if (conf?.voters.includes(peerId) || conf?.learners.includes(peerId)) return true
    if (this.#state?.members.some((m) => m.peerId === peerId)) return true
    return this.#knownPeers.has(peerId)
  }

  #heard(peerId: string): void {
    const now = this.#c.clock.now()
    const seen = this.#seen.get(peerId)
    if (seen === undefined || !this.#isFresh(seen))
      this.#seen.set(peerId, { firstHeard: now, lastHeard: now })
    else seen.lastHeard = now
  }

  /** Heard from within three election timeouts. */
  #isFresh(seen: PeerSeen): boolean {
    return this.#c.clock.now() - seen.lastHeard < 3 * this.#electionTicks * this.#tickMs
  }

  #health(): MemberHealth[] {
    const driver = this.#driver
    return memberHealth({
      memberIds: this.#state?.members.map((m) => m.peerId) ?? [],
      selfId: this.#init.selfId,
      now: this.#c.clock.now(),
      freshMs: 3 * this.#electionTicks * this.#tickMs,
      heard: this.#seen,
      learners: driver?.conf.learners ?? [],
      matchOf: (peerId) => driver?.raft.progress.get(peerId)?.match ?? 0,
      lastIndex: driver?.raft.log.lastIndex() ?? 0,
      rtts: this.#c.rtts?.(),
    })
  }

  #onTick(): void {
    this.#ticks++
    if (this.#ticks % this.#electionTicks !== 0) return
    if ((this.#init.manageMembership ?? true) && this.#soft.role === 'leader') this.#reconcileMembers()
  }

  /** Leader: propose the next single voter/learner change, if any. */
  #reconcileMembers(): void {
    const driver = this.#driver
    if (driver === undefined || this.#state === undefined) return
    const change = nextMembershipChange(driver.conf, this.#health(), this.#init.selfId)
    if (change === undefined) return
    try {
      driver.proposeConfChange(change)
      logger('membership: %s %s', change.type, change.node)
    } catch (err) {
      // A change is still pending, or we are no longer leader: try next round.
      if (!(err instanceof ProposalDroppedError) && !(err instanceof NotLeaderError))
        logger('membership change %s %s refused: %s', change.type, change.node, (err as Error).message)
    }
  }

  #onSoftState(soft: SoftState, term: number): void {
    const leaderChanged = soft.leader !== this.#soft.leader
    const roleChanged = soft.role !== this.#soft.role
    logger('term %d: %s, leader %s', term, soft.role, soft.leader ?? 'unknown')
    this.#soft = { ...soft }
    this.#term = term
    if (leaderChanged) this.#events.emit('leader:changed', { leader: soft.leader ?? undefined, term })
    if (roleChanged) this.#events.emit('role:changed', { role: this.role(), term })
  }

  #restore(data: Uint8Array): void {
    const snap = decodeSnapshot(data)
    this.#state = snap.state
    this.#partyIndex = snap.partyIndex
    this.#recent = []
    const waiters = this.#syncWaiters
    this.#syncWaiters = []
    for (const w of waiters) w()
  }

  #apply(snapshot: Snapshot | null, committed: Entry[]): void {
    if (snapshot !== null) {
      this.#restore(snapshot.data)
      for (const [index, p] of this.#pending) {
        if (index > snapshot.index) continue
        this.#pending.delete(index)
        p.reject(new CommitUnknownError(index))
      }
      this.#events.emit('snapshot:installed', { index: this.#partyIndex, state: this.#state as PartyState })
    }
    for (const e of committed) {
      const pending = this.#pending.get(e.index)
      this.#pending.delete(e.index)
      if (e.type !== 'normal' || this.#state === undefined) {
        pending?.reject(new ProposalLostError(e.index))
        continue
      }
      let entry: PartyLogEntry
      try {
        entry = decodeEntry(e.data)
      } catch {
        // Every replica skips the same undecodable entry, so they still agree.
        pending?.reject(new ProposalLostError(e.index))
        continue
      }
      const outcome = applyCommand(this.#state, entry)
      this.#state = outcome.state
      this.#partyIndex++
      const record: CommittedEntry = {
        index: this.#partyIndex,
        entry,
        result: outcome.result,
        state: outcome.state,
      }
      this.#recent.push(record)
      if (this.#recent.length > (this.#init.retain ?? 1000)) this.#recent.shift()
      if (pending !== undefined) {
        if (pending.term === e.term) pending.resolve({ index: this.#partyIndex, result: outcome.result })
        else pending.reject(new ProposalLostError(e.index))
      }
      for (const cb of this.#listeners) {
        try {
          cb(record)
        } catch (err) {
          logger('onCommitted listener threw: %s', (err as Error).message)
        }
      }
    }
  }

  #rejectAll(error: () => Error): void {
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of pending) p.reject(error())
  }
}
