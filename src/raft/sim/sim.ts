/**
 * A seeded, deterministic simulation of a Raft group: virtual clock, an
 * in-memory network with delay, loss, duplication, reordering and
 * partitions, crashes that lose everything but the simulated disk, random
 * membership changes, leadership transfers and log compaction. It checks
 * Raft's safety properties as it goes and throws `SimViolation` (with the
 * seed) on the first breach. Everything random derives from the seed, and
 * events at equal times run in insertion order, so a seed replays exactly.
 */
import { InvalidConfChangeError, NotLeaderError, ProposalDroppedError } from '../errors.ts'
import type { Message } from '../messages.ts'
import { Raft } from '../raft.ts'
import { seededRandom } from '../random.ts'
import type { ConfChange, ConfState, Entry, HardState, NodeId, Snapshot } from '../types.ts'
import { decodeConfState } from '../types.ts'
import { EventHeap } from './heap.ts'
import { hashChainMachine, type SimStateMachine, type SimStateMachineFactory } from './state-machine.ts'

export interface SimOptions {
  seed: number
  /** Virtual ms of chaos (faults, clients); default 2–6 s chosen by the seed. */
  chaosMs?: number
  /** Virtual ms of calm afterwards (all healed and restarted) before the final checks. */
  settleMs?: number
  tickMs?: number
  electionTick?: number
  heartbeatTick?: number
  /** Inject faults (partitions, crashes, loss, ...). */
  faults?: boolean
  /** Membership changes, transfers and compaction. */
  operations?: boolean
  machine?: SimStateMachineFactory
  /** Builds a client command at the leader (default: a unique text). Lets a machine stamp e.g. effective times. */
  command?: (ctx: CommandContext) => Uint8Array
  /** Extra check on every applied command: (node, index, data, machine). Throw to fail. */
  onApply?: (node: NodeId, index: number, data: Uint8Array, machine: SimStateMachine) => void
}

export interface CommandContext {
  seq: number
  /** Virtual time (ms), the simulation's true clock. */
  time: number
  rng: { next(): number; int(n: number): number }
  /** The leader taking the proposal: its log (including the uncommitted tail) and its machine. */
  raft: Raft
  machine: SimStateMachine
}

export interface SimStats {
  seed: number
  voters: number
  events: number
  maxTerm: number
  leaderTerms: number
  committed: number
  acked: number
  crashes: number
  partitions: number
  confChanges: number
  snapshotsSent: number
  /** Hash of the exact order and timing of every event: equal on an exact replay. */
  fingerprint: number
}

export class SimViolation extends Error {
  readonly seed: number
  constructor(seed: number, time: number, message: string, trace: string[]) {
    super(`seed ${seed} t=${time}ms: ${message}\nlast events:\n  ${trace.join('\n  ')}`)
    this.seed = seed
  }
}

interface Disk {
  hard?: HardState
  snapshot?: Snapshot
  entries: Entry[]
}

interface SimNode {
  id: NodeId
  up: boolean
  raft: Raft | null
  machine: SimStateMachine | null
  applied: number
  disk: Disk
  /** Proposals this incarnation made as leader and has not seen applied yet. */
  pending: Map<number, { term: number; key: string }>
}

type SimEvent =
  | { time: number; seq: number; kind: 'tick'; node: NodeId }
  | { time: number; seq: number; kind: 'deliver'; msg: Message }
  | { time: number; seq: number; kind: 'client' }
  | { time: number; seq: number; kind: 'chaos' }
  | { time: number; seq: number; kind: 'restart'; node: NodeId }
  | { time: number; seq: number; kind: 'heal' }
  /** The shell's connection to `peer` dropped (a crash, or a false alarm). */
  | { time: number; seq: number; kind: 'unreachable'; node: NodeId; peer: NodeId }

type EventBody = SimEvent extends infer E ? (E extends SimEvent ? Omit<E, 'time' | 'seq'> : never) : never

/** A schedule normally needs a few thousand events; far more means a livelock or a runaway log. */
const MAX_EVENTS = 500_000

const decoder = new TextDecoder()
const encoder = new TextEncoder()

export function runSimulation(options: SimOptions): SimStats {
  return new Simulation(options).run()
}

export interface FailoverSample {
  /** Cold start to the first leader (ms). */
  firstElectionMs: number
  /** Leader crash to a new leader (ms). */
  failoverMs: number
}

/**
 * Election timing with production-like settings and a calm network (1–10 ms
 * delay, no loss): time to the first leader, then time from killing that
 * leader to the next one.
 */
export function measureFailover(
  seed: number,
  tickMs = 50,
  electionTick = 10,
  heartbeatTick = 1,
  /** Survivors hear that the leader's connection dropped (a killed process); false: a silent cut. */
  notice = true,
): FailoverSample {
  const sim = new Simulation({
    seed,
    faults: false,
    operations: false,
    chaosMs: 1e9,
    tickMs,
    electionTick,
    heartbeatTick,
  })
  const NEVER = 1e8
  sim.runUntil(NEVER, () => sim.leader() !== undefined)
  const firstElectionMs = sim.time
  sim.runUntil(sim.time + 3000) // settle: followers have heard heartbeats
  const old = sim.leader() as SimNode
  const crashedAt = sim.time
  sim.crash(old, notice)
  sim.runUntil(NEVER, () => sim.leader() !== undefined)
  return { firstElectionMs, failoverMs: sim.time - crashedAt }
}

class Simulation {
  readonly seed: number
  readonly rng: ReturnType<typeof seededRandom>
  readonly opts: Required<Omit<SimOptions, 'onApply' | 'seed' | 'command'>> &
    Pick<SimOptions, 'onApply' | 'command'>
  time = 0
  seq = 0
  readonly queue = new EventHeap<SimEvent>()
  readonly nodes = new Map<NodeId, SimNode>()
  readonly founders: ConfState
  // network conditions
  loss = 0
  duplicate = 0
  minDelay = 1
  maxDelay = 10
  /** node -> group; nodes in different groups cannot talk. Empty: no partition. */
  partition = new Map<NodeId, number>()
  /** "from>to" -> latest time a message on that link is due: a connection's close is seen after its data. */
  lastArrival = new Map<string, number>()
  chaosOver = false
  /** Storminess, chosen per seed: mean gap between chaos events, and how long a crashed node stays down. */
  chaosGap = 400
  downtime = 2000
  // invariant bookkeeping
  readonly leaderOfTerm = new Map<number, NodeId>()
  readonly committedLog = new Map<number, string>()
  readonly digestAt = new Map<number, string>()
  readonly acked: Array<{ index: number; key: string }> = []
  readonly trace: string[] = []
  clientSeq = 0
  stats: SimStats

  constructor(options: SimOptions) {
    this.seed = options.seed
    this.rng = seededRandom(options.seed)
    this.opts = {
      chaosMs: options.chaosMs ?? 3000 + this.rng.int(9000),
      settleMs: options.settleMs ?? 4000,
      tickMs: options.tickMs ?? 50,
      electionTick: options.electionTick ?? 10,
      heartbeatTick: options.heartbeatTick ?? 2,
      faults: options.faults ?? true,
      operations: options.operations ?? true,
      machine: options.machine ?? hashChainMachine,
      onApply: options.onApply,
      command: options.command,
    }
    const voters = this.rng.next() < 0.5 ? 3 : 5
    const ids = Array.from({ length: voters + 2 }, (_, i) => `n${i + 1}`)
    this.founders = { voters: ids.slice(0, voters), learners: [] }
    this.stats = {
      seed: this.seed,
      voters,
      events: 0,
      maxTerm: 0,
      leaderTerms: 0,
      committed: 0,
      acked: 0,
      crashes: 0,
      partitions: 0,
      confChanges: 0,
      snapshotsSent: 0,
      fingerprint: 0x811c9dc5,
    }
    for (const id of ids) {
      const node: SimNode = {
        id,
        up: false,
        raft: null,
        machine: null,
        applied: 0,
        disk: { entries: [] },
        pending: new Map(),
      }
      this.nodes.set(id, node)
      this.start(node)
      this.schedule(this.rng.next() * this.opts.tickMs, { kind: 'tick', node: id })
    }
    if (this.opts.faults) {
      this.loss = this.rng.next() * 0.1
      this.duplicate = this.rng.next() * 0.05
      this.maxDelay = 2 + this.rng.int(40)
      this.chaosGap = [60, 200, 400, 800][this.rng.int(4)]
      this.downtime = [200, 800, 2000][this.rng.int(3)]
    }
    this.schedule(this.rng.int(100), { kind: 'client' })
    this.schedule(100 + this.rng.int(400), { kind: 'chaos' })
  }

  run(): SimStats {
    const end = this.opts.chaosMs + this.opts.settleMs
    this.runUntil(end)
    this.time = end
    this.finalChecks()
    return this.stats
  }

  /** Process events up to virtual time `end`, or until `stop()` holds after an event. */
  runUntil(end: number, stop?: () => boolean): void {
    for (;;) {
      const event = this.queue.pop()
      if (!event) return
      if (event.time > end) {
        this.queue.push(event)
        return
      }
      this.time = event.time
      if (!this.chaosOver && this.time >= this.opts.chaosMs) this.calmDown()
      if (++this.stats.events > MAX_EVENTS) this.fail(`more than ${MAX_EVENTS} events: runaway schedule`)
      // Fingerprint of the exact event order: replaying a seed must reproduce it.
      this.stats.fingerprint =
        Math.imul(this.stats.fingerprint ^ event.seq ^ Math.round(event.time * 1000), 0x01000193) >>> 0
      this.handle(event)
      if (stop?.()) return
    }
  }

  schedule(delay: number, event: EventBody): void {
    this.queue.push({ ...event, time: this.time + delay, seq: this.seq++ } as SimEvent)
  }

  note(line: string): void {
    this.trace.push(`${this.time.toFixed(1)} ${line}`)
    if (this.trace.length > 40) this.trace.shift()
  }

  fail(message: string): never {
    throw new SimViolation(this.seed, this.time, message, this.trace)
  }

  handle(event: SimEvent): void {
    switch (event.kind) {
      case 'tick': {
        const node = this.nodes.get(event.node) as SimNode
        if (node.up && node.raft) {
          node.raft.tick()
          this.drain(node)
        }
        this.schedule(this.opts.tickMs, event)
        break
      }
      case 'deliver': {
        const node = this.nodes.get(event.msg.to)
        if (!node?.up || !node.raft || this.cut(event.msg.from, event.msg.to)) return
        node.raft.step(event.msg)
        this.drain(node)
        break
      }
      case 'client':
        this.client()
        if (!this.chaosOver) this.schedule(2 + this.rng.int(30), event)
        break
      case 'chaos':
        if (this.chaosOver) return
        this.chaos()
        this.schedule(10 + this.rng.int(this.chaosGap), event)
        break
      case 'restart': {
        const node = this.nodes.get(event.node) as SimNode
        if (!node.up) this.start(node)
        break
      }
      case 'heal':
        if (this.partition.size > 0) this.note('heal')
        this.partition.clear()
        break
      case 'unreachable': {
        const node = this.nodes.get(event.node) as SimNode
        if (node.up && node.raft) {
          node.raft.leaderUnreachable(event.peer)
          this.drain(node)
        }
        break
      }
    }
  }

  // ---- nodes ---------------------------------------------------------------

  start(node: SimNode): void {
    const { disk } = node
    node.raft = new Raft(
      {
        id: node.id,
        electionTick: this.opts.electionTick,
        heartbeatTick: this.opts.heartbeatTick,
        random: seededRandom(this.rng.int(2 ** 32)),
      },
      {
        hardState: disk.hard,
        snapshot: disk.snapshot,
        entries: [...disk.entries],
        bootstrap: this.founders.voters.includes(node.id) ? this.founders : undefined,
      },
    )
    node.up = true
    node.machine = this.opts.machine.create(disk.snapshot?.data)
    node.applied = disk.snapshot?.index ?? 0
    node.pending = new Map()
    if (node.applied > 0) this.checkDigest(node, node.applied, 'restart from snapshot')
    this.note(
      `${node.id} start (snapshot ${node.applied}, ${disk.entries.length} entries, term ${disk.hard?.term ?? 0})`,
    )
    this.drain(node)
  }

  /**
   * A crashed process's connections close: the peers that can reach it hear
   * so after a link delay (`notice`), as libp2p reports peer:disconnect. A
   * host cut off the network gives no such notice (`notice: false`).
   */
  crash(node: SimNode, notice = true): void {
    node.up = false
    node.raft = null
    node.machine = null
    node.pending = new Map()
    this.stats.crashes++
    this.note(`${node.id} crash`)
    if (!notice) return
    for (const other of this.upNodes()) {
      if (this.cut(node.id, other.id)) continue
      const delay = this.minDelay + this.rng.next() * (this.maxDelay - this.minDelay)
      const drained = (this.lastArrival.get(`${node.id}>${other.id}`) ?? 0) + 0.1 - this.time
      this.schedule(Math.max(delay, drained), { kind: 'unreachable', node: other.id, peer: node.id })
    }
  }

  /** The shell's loop: persist, send, apply, advance. */
  drain(node: SimNode): void {
    const raft = node.raft as Raft
    for (let rounds = 0; raft.hasReady(); rounds++) {
      if (rounds > 1000) this.fail(`${node.id}: ready loop does not settle`)
      const rd = raft.ready()
      this.persist(node, rd.snapshot, rd.entries, rd.hardState)
      for (const m of rd.messages) this.send(m)
      if (rd.snapshot) this.applySnapshot(node, rd.snapshot)
      for (const e of rd.committed) this.applyEntry(node, e)
      raft.advance(rd)
    }
    if (raft.log.entries.length > 100_000)
      this.fail(`${node.id}: log grew to ${raft.log.entries.length} entries`)
    if (raft.role === 'leader') {
      const holder = this.leaderOfTerm.get(raft.term)
      if (holder === undefined) {
        this.leaderOfTerm.set(raft.term, node.id)
        this.stats.leaderTerms++
        this.note(`${node.id} leader of term ${raft.term}`)
      } else if (holder !== node.id) {
        this.fail(`two leaders in term ${raft.term}: ${holder} and ${node.id}`)
      }
    }
    this.stats.maxTerm = Math.max(this.stats.maxTerm, raft.term)
  }

  persist(node: SimNode, snapshot: Snapshot | null, entries: Entry[], hard: HardState | null): void {
    const disk = node.disk
    if (snapshot) {
      const at = disk.entries.find((e) => e.index === snapshot.index)
      disk.entries = at?.term === snapshot.term ? disk.entries.filter((e) => e.index > snapshot.index) : []
      disk.snapshot = snapshot
    }
    if (entries.length > 0) {
      const first = entries[0].index
      disk.entries = disk.entries.filter((e) => e.index < first).concat(entries)
    }
    if (hard) disk.hard = hard
    const base = disk.snapshot?.index ?? 0
    for (let i = 0; i < disk.entries.length; i++) {
      if (disk.entries[i].index !== base + 1 + i) this.fail(`${node.id}: disk log not contiguous`)
    }
  }

  applySnapshot(node: SimNode, snapshot: Snapshot): void {
    if (snapshot.index <= node.applied)
      this.fail(`${node.id}: snapshot ${snapshot.index} does not move past applied ${node.applied}`)
    this.checkSnapshotConf(node, snapshot)
    node.machine = this.opts.machine.create(snapshot.data)
    node.applied = snapshot.index
    this.checkDigest(node, snapshot.index, 'snapshot install')
    this.note(`${node.id} installed snapshot ${snapshot.index}`)
  }

  applyEntry(node: SimNode, e: Entry): void {
    if (e.index !== node.applied + 1)
      this.fail(`${node.id}: applied ${e.index} after ${node.applied} (gap or repeat)`)
    const key = entryKey(e)
    const agreed = this.committedLog.get(e.index)
    if (agreed === undefined) {
      this.committedLog.set(e.index, key)
      this.stats.committed = Math.max(this.stats.committed, e.index)
    } else if (agreed !== key) {
      this.fail(`${node.id}: committed entry ${e.index} is ${key}, others committed ${agreed}`)
    }
    const machine = node.machine as SimStateMachine
    if (e.type === 'normal') {
      machine.apply(e.data)
      this.opts.onApply?.(node.id, e.index, e.data, machine)
    }
    node.applied = e.index
    this.checkDigest(node, e.index, 'apply')
    const proposal = node.pending.get(e.index)
    if (proposal) {
      node.pending.delete(e.index)
      if (proposal.term === e.term) {
        if (proposal.key !== key)
          this.fail(`${node.id}: acknowledged ${proposal.key} but committed ${key} at ${e.index}`)
        this.acked.push({ index: e.index, key })
        this.stats.acked++
      }
    }
  }

  /** A snapshot's membership must be the one the committed log says was in force at its index. */
  checkSnapshotConf(node: SimNode, snapshot: Snapshot): void {
    let conf = this.founders
    for (let i = 1; i <= snapshot.index; i++) {
      const key = this.committedLog.get(i)
      if (key?.startsWith('conf/')) conf = decodeConfState(encoder.encode(key.slice(5)))
    }
    const norm = (c: ConfState) => JSON.stringify([[...c.voters].sort(), [...c.learners].sort()])
    if (norm(conf) !== norm(snapshot.conf))
      this.fail(
        `${node.id}: snapshot at ${snapshot.index} has membership ${norm(snapshot.conf)}, the log says ${norm(conf)}`,
      )
  }

  checkDigest(node: SimNode, index: number, what: string): void {
    const digest = (node.machine as SimStateMachine).digest()
    const agreed = this.digestAt.get(index)
    if (agreed === undefined) this.digestAt.set(index, digest)
    else if (agreed !== digest)
      this.fail(`${node.id}: state at ${index} after ${what} is ${digest}, others had ${agreed}`)
  }

  // ---- network -------------------------------------------------------------

  cut(a: NodeId, b: NodeId): boolean {
    return this.partition.size > 0 && this.partition.get(a) !== this.partition.get(b)
  }

  send(m: Message): void {
    if (m.type === 'snapshot') this.stats.snapshotsSent++
    if (this.cut(m.from, m.to) || this.rng.next() < this.loss) return
    const copies = this.rng.next() < this.duplicate ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const delay = this.minDelay + this.rng.next() * (this.maxDelay - this.minDelay)
      const link = `${m.from}>${m.to}`
      this.lastArrival.set(link, Math.max(this.lastArrival.get(link) ?? 0, this.time + delay))
      this.schedule(delay, { kind: 'deliver', msg: m })
    }
  }

  // ---- workload and chaos --------------------------------------------------

  upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up)
  }

  leader(): SimNode | undefined {
    let best: SimNode | undefined
    for (const n of this.upNodes()) {
      if (n.raft?.role === 'leader' && (!best || n.raft.term > (best.raft as Raft).term)) best = n
    }
    return best
  }

  client(): void {
    const up = this.upNodes()
    if (up.length === 0) return
    const node = up[this.rng.int(up.length)]
    const raft = node.raft as Raft
    if (raft.role !== 'leader') return
    const seq = this.clientSeq++
    const data = this.opts.command
      ? this.opts.command({
          seq,
          time: this.time,
          rng: this.rng,
          raft,
          machine: node.machine as SimStateMachine,
        })
      : encoder.encode(`c${seq}`)
    try {
      const at = raft.propose(data)
      node.pending.set(at.index, {
        term: at.term,
        key: entryKey({ index: at.index, term: at.term, type: 'normal', data }),
      })
    } catch (err) {
      if (!(err instanceof NotLeaderError || err instanceof ProposalDroppedError)) throw err
    }
    this.drain(node)
  }

  calmDown(): void {
    this.chaosOver = true
    this.partition.clear()
    this.loss = 0
    this.duplicate = 0
    this.maxDelay = Math.min(this.maxDelay, 10)
    for (const n of this.nodes.values()) if (!n.up) this.start(n)
    this.note('calm: healed, all restarted')
  }

  chaos(): void {
    const roll = this.rng.int(100)
    const nodes = [...this.nodes.values()]
    const pick = <T>(xs: T[]): T => xs[this.rng.int(xs.length)]
    if (this.opts.faults && roll < 15) {
      // partition into two random groups, or isolate one node
      this.partition.clear()
      const isolated = this.rng.next() < 0.5 ? pick(nodes).id : null
      for (const n of nodes) this.partition.set(n.id, isolated ? Number(n.id === isolated) : this.rng.int(2))
      this.stats.partitions++
      this.note(`partition ${[...this.partition].map(([id, g]) => `${id}:${g}`).join(' ')}`)
      this.schedule(200 + this.rng.int(2000), { kind: 'heal' })
    } else if (this.opts.faults && roll < 30) {
      const up = this.upNodes()
      if (up.length === 0) return
      const victim = this.rng.next() < 0.5 ? (this.leader() ?? pick(up)) : pick(up)
      this.crash(victim, this.rng.next() < 0.7)
      // Some restarts are instant (a process manager), which races a restarted node against elections it voted in.
      const downtime = this.rng.next() < 0.3 ? 1 + this.rng.int(20) : 20 + this.rng.int(this.downtime)
      this.schedule(downtime, { kind: 'restart', node: victim.id })
    } else if (this.opts.faults && roll < 34) {
      // A false alarm: a node hears that a live peer (often its leader) dropped its connection.
      const up = this.upNodes()
      if (up.length < 2) return
      const node = pick(up)
      const peer = node.raft?.leader ?? pick(up).id
      this.note(`${node.id} told ${peer} is unreachable`)
      this.schedule(0, { kind: 'unreachable', node: node.id, peer })
    } else if (this.opts.faults && roll < 38) {
      // Sometimes a terrible network: delays near the election timeout and heavy loss cause election storms.
      const terrible = this.rng.next() < 0.25
      this.loss = this.rng.next() < 0.3 ? 0 : this.rng.next() * (terrible ? 0.5 : 0.2)
      this.duplicate = this.rng.next() * 0.05
      this.maxDelay = 2 + this.rng.int(terrible ? 600 : 60)
      this.note(
        `network loss ${this.loss.toFixed(2)} dup ${this.duplicate.toFixed(2)} delay<=${this.maxDelay}`,
      )
    } else if (this.opts.operations && roll < 58) {
      this.changeMembership(pick)
    } else if (this.opts.operations && roll < 66) {
      const leader = this.leader()
      const raft = leader?.raft
      if (!raft) return
      const to = pick(raft.conf.voters)
      raft.transferLeadership(to)
      this.note(`${raft.id} transfers leadership to ${to}`)
      this.drain(leader)
    } else if (this.opts.operations && roll < 80) {
      const up = this.upNodes().filter((n) => n.raft && n.applied - n.raft.log.snapshot.index >= 3)
      if (up.length === 0) return
      const node = pick(up)
      const raft = node.raft as Raft
      const snapshot = raft.compact(node.applied, (node.machine as SimStateMachine).snapshot())
      this.checkSnapshotConf(node, snapshot)
      node.disk.snapshot = snapshot
      node.disk.entries = node.disk.entries.filter((e) => e.index > snapshot.index)
      this.note(`${node.id} compacted to ${snapshot.index}`)
    }
  }

  changeMembership(pick: <T>(xs: T[]) => T): void {
    const leader = this.leader()
    const raft = leader?.raft
    if (!leader || !raft) return
    const { voters, learners } = raft.conf
    const outsiders = [...this.nodes.keys()].filter((id) => !voters.includes(id) && !learners.includes(id))
    const options: ConfChange[] = []
    for (const id of outsiders) options.push({ type: 'addLearner', node: id }, { type: 'addVoter', node: id })
    for (const id of learners) options.push({ type: 'addVoter', node: id }, { type: 'removeNode', node: id })
    if (voters.length > 2)
      for (const id of voters) if (id !== raft.id) options.push({ type: 'removeNode', node: id })
    if (options.length === 0) return
    const change = pick(options)
    try {
      raft.proposeConfChange(change)
      this.stats.confChanges++
      this.note(`${raft.id} proposes ${change.type} ${change.node}`)
    } catch (err) {
      if (!(err instanceof ProposalDroppedError || err instanceof InvalidConfChangeError)) throw err
    }
    this.drain(leader)
  }

  // ---- the end ---------------------------------------------------------------

  finalChecks(): void {
    const leader = this.leader()
    if (!leader) this.fail('no leader after the calm period (liveness)')
    let conf = this.founders
    for (const [index, key] of [...this.committedLog].sort((a, b) => a[0] - b[0])) {
      if (key.startsWith('conf/')) conf = decodeConfState(encoder.encode(key.slice(5)))
      void index
    }
    const members = [...conf.voters, ...conf.learners]
    const maxAcked = this.acked.reduce((m, a) => Math.max(m, a.index), 0)
    for (const id of members) {
      const node = this.nodes.get(id) as SimNode
      if (node.applied < maxAcked)
        this.fail(`${id} applied only ${node.applied}, but ${maxAcked} was acknowledged`)
    }
    for (const a of this.acked) {
      if (this.committedLog.get(a.index) !== a.key)
        this.fail(`acknowledged ${a.key} at ${a.index} is not the committed entry`)
    }
  }
}

function entryKey(e: Entry): string {
  if (e.type === 'noop') return `noop@${e.term}`
  // Normal commands are made unique by the client; conf entries by content (the final check decodes them).
  return `${e.type}/${decoder.decode(e.data)}`
}
