/** In-process Raft party-log groups on loopback libp2p nodes, for the replication tests. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import {
  createRaftPartyLog,
  type RaftPartyLog,
  type RaftPartyLogInit,
} from '../../src/replication/raft-party-log.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'
import { enqueueEntry, foundingState, PARTY_ID } from './fixtures/party.ts'

export { PARTY_ID } from './fixtures/party.ts'
export const enqueue = enqueueEntry

export interface Member {
  id: string
  libp2p: TuttiLibp2p
  log: RaftPartyLog
  dataDir: string
  up: boolean
}

export async function newLibp2p(): Promise<TuttiLibp2p> {
  return createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 })
}

/** Dial everyone from everyone so each peer store knows the others' addresses. */
export async function connectAll(nodes: TuttiLibp2p[]): Promise<void> {
  for (const a of nodes)
    for (const b of nodes)
      if (a !== b) await a.dial(b.getMultiaddrs()[0], { signal: AbortSignal.timeout(5000) })
}

export class Group {
  readonly members: Member[] = []
  readonly root: string
  constructor(root: string) {
    this.root = root
  }

  /** `prepare` runs on each member's data directory before its log starts (e.g. to mount a small disk there). */
  static async found(
    size: number,
    init: Partial<RaftPartyLogInit> = {},
    prepare?: (dataDir: string, index: number) => Promise<void>,
  ): Promise<Group> {
    const group = new Group(await mkdtemp(join(tmpdir(), 'tutti-raft-')))
    const nodes = await Promise.all(Array.from({ length: size }, () => newLibp2p()))
    await connectAll(nodes)
    const ids = nodes.map((n) => n.peerId.toString())
    const initialState = foundingState(ids)
    for (const [i, libp2p] of nodes.entries()) {
      const dataDir = join(group.root, `m${i}`)
      await prepare?.(dataDir, i)
      const log = createRaftPartyLog(
        { partyId: PARTY_ID, selfId: ids[i], dataDir, initialState, founders: ids, ...init },
        { libp2p, clock: monotonicClock },
      )
      group.members.push({ id: ids[i], libp2p, log, dataDir, up: true })
    }
    await Promise.all(group.members.map((m) => m.log.start()))
    return group
  }

  up(): Member[] {
    return this.members.filter((m) => m.up)
  }

  byId(id: string): Member {
    const m = this.members.find((x) => x.id === id)
    if (m === undefined) throw new Error(`no member ${id}`)
    return m
  }

  /** Waits until every live member agrees on one leader; returns it. */
  async leader(what = 'a leader'): Promise<Member> {
    let found: Member | undefined
    await waitFor(() => {
      const live = this.up()
      const leaders = new Set(live.map((m) => m.log.leader()))
      if (leaders.size !== 1) return false
      const [id] = leaders
      found = live.find((m) => m.id === id && m.log.role() === 'leader')
      return found !== undefined
    }, what)
    return found as Member
  }

  async converged(what = 'every live replica to apply the same entries'): Promise<void> {
    await waitFor(() => {
      const live = this.up()
      const index = live[0].log.commitIndex
      return live.every(
        (m) =>
          m.log.commitIndex === index && JSON.stringify(m.log.state) === JSON.stringify(live[0].log.state),
      )
    }, what)
  }

  /** Simulates a crash: the node's libp2p goes away without a goodbye; the log stops without handing off. */
  async kill(m: Member): Promise<void> {
    m.up = false
    await m.libp2p.stop()
    await m.log.stop({ handOff: false })
  }

  async close(): Promise<void> {
    for (const m of this.members) {
      if (m.up) {
        m.up = false
        await m.log.stop({ handOff: false }).catch(() => {})
        await Promise.resolve(m.libp2p.stop()).catch(() => {})
      }
    }
    await rm(this.root, { recursive: true, force: true })
  }
}
