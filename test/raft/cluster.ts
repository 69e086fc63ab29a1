/** A synchronous in-memory cluster for Raft unit tests: messages go through a filter, nodes can crash and restart from their "disk". */
import type { Message } from '../../src/raft/messages.ts'
import { Raft, type RaftOptions } from '../../src/raft/raft.ts'
import { seededRandom } from '../../src/raft/random.ts'
import type { Entry, HardState, Snapshot } from '../../src/raft/types.ts'

interface TestNode {
  raft: Raft
  up: boolean
  disk: { hard?: HardState; snapshot?: Snapshot; entries: Entry[] }
  /** Commands applied, in order (decoded text); reset when restored from a snapshot. */
  applied: string[]
  snapshotsInstalled: number
}

const enc = new TextEncoder()
const dec = new TextDecoder()
export const cmd = (s: string): Uint8Array => enc.encode(s)

export class Cluster {
  readonly nodes = new Map<string, TestNode>()
  readonly options: Partial<RaftOptions>
  /** Return null to drop a message, or a (possibly rewritten) message to deliver. */
  filter: (m: Message) => Message | null = (m) => m
  readonly log: Message[] = []
  #seed = 1

  constructor(voters: string[], others: string[] = [], options: Partial<RaftOptions> = {}) {
    this.options = options
    for (const id of [...voters, ...others]) {
      const node: TestNode = {
        raft: null as unknown as Raft,
        up: true,
        disk: { entries: [] },
        applied: [],
        snapshotsInstalled: 0,
      }
      this.nodes.set(id, node)
      node.raft = this.#create(id, voters.includes(id) ? voters : undefined)
    }
    this.flush()
  }

  #create(id: string, bootstrap?: string[]): Raft {
    const disk = this.nodes.get(id)?.disk ?? { entries: [] }
    return new Raft(
      { id, random: seededRandom(this.#seed++), ...this.options },
      {
        hardState: disk.hard,
        snapshot: disk.snapshot,
        entries: [...disk.entries],
        bootstrap: bootstrap ? { voters: bootstrap, learners: [] } : undefined,
      },
    )
  }

  raft(id: string): Raft {
    return (this.nodes.get(id) as TestNode).raft
  }

  applied(id: string): string[] {
    return (this.nodes.get(id) as TestNode).applied
  }

  node(id: string): TestNode {
    return this.nodes.get(id) as TestNode
  }

  /** Deliver messages until nothing moves. */
  flush(): void {
    const queue: Message[] = []
    for (let round = 0; round < 10_000; round++) {
      for (const [id, node] of this.nodes) if (node.up) this.#drain(id, node, queue)
      if (queue.length === 0) return
      while (queue.length > 0) {
        const original = queue.shift() as Message
        const m = this.filter(original)
        const target = m && this.nodes.get(m.to)
        if (!m || !target?.up) continue
        this.log.push(m)
        target.raft.step(m)
        this.#drain(m.to, target, queue)
      }
    }
    throw new Error('cluster does not settle')
  }

  #drain(_id: string, node: TestNode, queue: Message[]): void {
    while (node.raft.hasReady()) {
      const rd = node.raft.ready()
      const disk = node.disk
      if (rd.snapshot) {
        disk.snapshot = rd.snapshot
        disk.entries = []
        node.applied = dec.decode(rd.snapshot.data).split(',').filter(Boolean)
        node.snapshotsInstalled++
      }
      if (rd.entries.length > 0) {
        const first = rd.entries[0].index
        disk.entries = disk.entries.filter((e) => e.index < first).concat(rd.entries)
      }
      if (rd.hardState) disk.hard = rd.hardState
      queue.push(...rd.messages)
      for (const e of rd.committed) if (e.type === 'normal') node.applied.push(dec.decode(e.data))
      node.raft.advance(rd)
    }
  }

  tick(ids: string[], times = 1): void {
    for (let t = 0; t < times; t++) {
      for (const id of ids) if (this.node(id).up) this.raft(id).tick()
      this.flush()
    }
  }

  tickAll(times = 1): void {
    this.tick([...this.nodes.keys()], times)
  }

  crash(id: string): void {
    this.node(id).up = false
  }

  restart(id: string): void {
    const node = this.node(id)
    node.raft = this.#create(id)
    node.applied = node.disk.snapshot ? dec.decode(node.disk.snapshot.data).split(',').filter(Boolean) : []
    node.up = true
    this.flush()
  }

  /** Compact `id`'s log at its applied index; the "state" is the applied command list. */
  compact(id: string): Snapshot {
    const node = this.node(id)
    const snap = node.raft.compact(node.raft.log.applied, enc.encode(node.applied.join(',')))
    node.disk.snapshot = snap
    node.disk.entries = node.disk.entries.filter((e) => e.index > snap.index)
    return snap
  }

  leaders(): string[] {
    return [...this.nodes].filter(([, n]) => n.up && n.raft.role === 'leader').map(([id]) => id)
  }

  /** Cut every link between the groups (messages inside a group still flow). */
  partition(...groups: string[][]): void {
    const groupOf = new Map<string, number>()
    groups.forEach((g, i) => {
      for (const id of g) groupOf.set(id, i)
    })
    this.filter = (m) => (groupOf.get(m.from) === groupOf.get(m.to) ? m : null)
  }

  heal(): void {
    this.filter = (m) => m
  }
}
