/**
 * The I/O shell around the pure Raft core: a tick timer, durable storage, a
 * transport, and the application's apply/restore callbacks. Every input
 * (tick, message, proposal) steps the core synchronously; one serialized
 * loop then persists each `Ready` (fsync), sends its messages, applies its
 * committed entries and advances — in that order, which is what makes votes
 * and acknowledgements safe across crashes.
 */
import type { AbortOptions } from '@libp2p/interface'
import { AbortedError } from '../shared/errors.ts'
import { TypedEmitter } from '../shared/events.ts'
import { log } from '../shared/logger.ts'
import { NotLeaderError, ProposalDroppedError } from './errors.ts'
import type { Message } from './messages.ts'
import { type Proposed, Raft } from './raft.ts'
import { mathRandom, type Random } from './random.ts'
import type { RaftStorage } from './storage.ts'
import type { ConfChange, ConfState, Entry, NodeId, Role, Snapshot, SoftState } from './types.ts'

/** How Raft messages reach peers; the party module implements it on libp2p (`/tutti/raft/1.0.0`). */
export interface RaftTransport {
  /** Best effort, no reply: Raft retries by itself. Must not throw. */
  send(to: NodeId, message: Message): void
  /** Register the receiver; returns an unsubscribe function. */
  onMessage(handler: (message: Message) => void): () => void
}

/** The replicated state machine. */
export interface RaftApplication {
  /** A committed entry, in log order, exactly once per incarnation (skip `noop`; `conf` is informational). */
  apply(entry: Entry): void | Promise<void>
  /** Replace the whole state with a snapshot's data (installed from the leader, or on restart). */
  restore(snapshot: Snapshot): void | Promise<void>
}

export interface RaftNodeInit {
  id: NodeId
  /** Milliseconds per tick (default 50). With the defaults a follower waits 11–20 ticks (0.55–1 s) after the last heartbeat before campaigning. */
  tickMs?: number
  electionTick?: number
  heartbeatTick?: number
  /** A founding member's first configuration; ignored when the storage already holds state. */
  bootstrap?: ConfState
  preVote?: boolean
  checkQuorum?: boolean
}

export interface RaftNodeComponents {
  transport: RaftTransport
  /** Durable state; without it the node is volatile (fine for learners that can re-fetch a snapshot, nothing else). */
  storage?: RaftStorage
  application: RaftApplication
  random?: Random
}

export interface RaftNodeEvents extends Record<string, unknown> {
  /** Role or known leader changed. */
  'soft-state': SoftState
}

export interface RaftStatus {
  id: NodeId
  role: Role
  leader: NodeId | null
  term: number
  commit: number
  applied: number
  /** Latest configuration in the log (in use, maybe not yet committed). */
  conf: ConfState
  /** Configuration as of the commit index: rely on a membership change only once it shows here. */
  committedConf: ConfState
  /** Leader only: how far each member's log matches ours (promote a learner once it is close to `commit`). */
  progress: Record<NodeId, { match: number; state: 'probe' | 'replicate' | 'snapshot' }>
}

export interface RaftNode {
  readonly events: TypedEmitter<RaftNodeEvents>
  start(): Promise<void>
  stop(): Promise<void>
  /** Resolves once the command is committed and applied here (then it is safe to acknowledge); rejects `NotLeaderError` off the leader. */
  propose(data: Uint8Array, options?: AbortOptions): Promise<Proposed>
  proposeConfChange(change: ConfChange, options?: AbortOptions): Promise<Proposed>
  transferLeadership(to: NodeId): void
  /** Compact the log at the applied index with the app state `data` taken at that index. */
  compact(data: Uint8Array): Promise<Snapshot>
  /** Campaign now instead of waiting for the election timeout (e.g. the app knows the host left). */
  campaign(): void
  status(): RaftStatus
}

interface Waiter {
  term: number
  resolve: (p: Proposed) => void
  reject: (err: Error) => void
}

export function createRaftNode(init: RaftNodeInit, components: RaftNodeComponents): RaftNode {
  return new RaftNodeShell(init, components)
}

class RaftNodeShell implements RaftNode {
  readonly events = new TypedEmitter<RaftNodeEvents>()
  readonly #init: RaftNodeInit
  readonly #components: RaftNodeComponents
  readonly #log = log('raft')
  #raft: Raft | null = null
  #timer: ReturnType<typeof setInterval> | null = null
  #unsubscribe: (() => void) | null = null
  #processing: Promise<void> | null = null
  #again = false
  #waiters = new Map<number, Waiter>()
  #soft: SoftState = { leader: null, role: 'follower' }
  #failed: Error | null = null

  constructor(init: RaftNodeInit, components: RaftNodeComponents) {
    this.#init = init
    this.#components = components
  }

  async start(): Promise<void> {
    if (this.#raft) return
    const persisted = this.#components.storage?.initialState() ?? { entries: [] }
    const raft = new Raft(
      {
        id: this.#init.id,
        electionTick: this.#init.electionTick,
        heartbeatTick: this.#init.heartbeatTick,
        preVote: this.#init.preVote,
        checkQuorum: this.#init.checkQuorum,
        random: this.#components.random ?? mathRandom,
      },
      { ...persisted, bootstrap: this.#init.bootstrap },
    )
    if (persisted.snapshot) await this.#components.application.restore(persisted.snapshot)
    this.#raft = raft
    this.#unsubscribe = this.#components.transport.onMessage((m) => this.#input((r) => r.step(m)))
    this.#timer = setInterval(() => this.#input((r) => r.tick()), this.#init.tickMs ?? 50)
    this.#timer.unref?.()
    this.#kick()
  }

  async stop(): Promise<void> {
    if (!this.#raft) return
    if (this.#timer) clearInterval(this.#timer)
    this.#unsubscribe?.()
    this.#timer = null
    this.#unsubscribe = null
    await this.#processing?.catch(() => {})
    this.#raft = null
    for (const w of this.#waiters.values()) w.reject(new AbortedError('raft node stopped'))
    this.#waiters.clear()
  }

  propose(data: Uint8Array, options: AbortOptions = {}): Promise<Proposed> {
    return this.#wait((r) => r.propose(data), options)
  }

  proposeConfChange(change: ConfChange, options: AbortOptions = {}): Promise<Proposed> {
    return this.#wait((r) => r.proposeConfChange(change), options)
  }

  transferLeadership(to: NodeId): void {
    this.#input((r) => r.transferLeadership(to))
  }

  campaign(): void {
    this.#input((r) => r.campaign())
  }

  async compact(data: Uint8Array): Promise<Snapshot> {
    const raft = this.#running()
    await this.#processing // apply everything handed out so far, so `applied` matches `data`
    const snapshot = raft.compact(raft.log.applied, data)
    await this.#components.storage?.saveSnapshot(snapshot)
    return snapshot
  }

  status(): RaftStatus {
    const r = this.#running()
    const progress: RaftStatus['progress'] = {}
    for (const [id, pr] of r.progress) progress[id] = { match: pr.match, state: pr.state }
    return {
      progress,
      id: r.id,
      role: r.role,
      leader: r.leader,
      term: r.term,
      commit: r.log.committed,
      applied: r.log.applied,
      conf: r.conf,
      committedConf: r.committedConf(),
    }
  }

  #running(): Raft {
    if (!this.#raft) throw new AbortedError('raft node is not running')
    if (this.#failed) throw this.#failed
    return this.#raft
  }

  #input(fn: (raft: Raft) => void): void {
    const raft = this.#raft
    if (!raft || this.#failed) return
    fn(raft)
    this.#kick()
  }

  #wait(fn: (raft: Raft) => Proposed, options: AbortOptions): Promise<Proposed> {
    try {
      options.signal?.throwIfAborted()
      const raft = this.#running()
      const at = fn(raft)
      const { promise, resolve, reject } = Promise.withResolvers<Proposed>()
      this.#waiters.get(at.index)?.reject(new ProposalDroppedError('superseded'))
      this.#waiters.set(at.index, { term: at.term, resolve, reject })
      const onAbort = () => {
        this.#waiters.delete(at.index)
        reject(new AbortedError())
      }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      this.#kick()
      return promise.finally(() => options.signal?.removeEventListener('abort', onAbort))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Run the ready loop (once at a time; a kick during a run makes it go around again). */
  #kick(): void {
    if (this.#processing) {
      this.#again = true
      return
    }
    this.#processing = this.#loop()
      .catch((err: Error) => {
        // Storage failing under Raft is fatal for this node: stop acting on a state we could not persist.
        this.#failed = err
        this.#log.error('raft node halted: %s', err.message)
        if (this.#timer) clearInterval(this.#timer)
        for (const w of this.#waiters.values()) w.reject(err)
        this.#waiters.clear()
      })
      .finally(() => {
        this.#processing = null
      })
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false
      const raft = this.#raft
      if (!raft) return
      while (raft.hasReady()) {
        const rd = raft.ready()
        await this.#components.storage?.save(rd)
        for (const m of rd.messages) {
          try {
            this.#components.transport.send(m.to, m)
          } catch (err) {
            this.#log('send to %s failed: %s', m.to, (err as Error).message) // a lost message: Raft retries
          }
        }
        if (rd.snapshot) {
          await this.#components.application.restore(rd.snapshot)
          for (const [index, w] of this.#waiters) {
            if (index > rd.snapshot.index) continue
            this.#waiters.delete(index)
            w.reject(new ProposalDroppedError('outcome unknown: replaced by a snapshot from the new leader'))
          }
        }
        for (const e of rd.committed) {
          await this.#components.application.apply(e)
          this.#settle(e)
        }
        raft.advance(rd)
        this.#notifySoftState(rd.softState)
      }
      this.#notifySoftState(raft.softState())
    } while (this.#again)
  }

  #settle(e: Entry): void {
    const w = this.#waiters.get(e.index)
    if (!w) return
    this.#waiters.delete(e.index)
    if (w.term === e.term) w.resolve({ index: e.index, term: e.term })
    else w.reject(new NotLeaderError(this.#raft?.leader ?? null)) // another leader's entry took the slot
  }

  #notifySoftState(s: SoftState): void {
    if (s.leader === this.#soft.leader && s.role === this.#soft.role) return
    this.#soft = s
    this.events.emit('soft-state', s)
  }
}
