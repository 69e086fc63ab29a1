// The Raft-replicated party log on in-process libp2p nodes: agreement, leader failover without losing acknowledged commands, restart from disk, late joiners via snapshot, hand-off, hostile frames.
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { NotLeaderError } from '../../src/replication/errors.ts'
import { waitFor } from '../helpers/wait.ts'
import { enqueue, Group } from './cluster.ts'

const titles = (g: Group, i: number): string[] => g.members[i].log.state.queue.map((e) => e.title)

describe('raft party log', () => {
  const groups: Group[] = []
  after(async () => {
    for (const g of groups) await g.close()
  })

  it('three replicas apply the same commands in the same order; followers refuse with the leader id', async () => {
    const g = await Group.found(3)
    groups.push(g)
    const leader = await g.leader()
    for (let n = 1; n <= 20; n++) {
      const { result } = await leader.log.propose(enqueue(leader.id, n))
      assert.equal(result.ok, true)
    }
    await g.converged()
    for (const m of g.members) {
      assert.equal(m.log.commitIndex, 20)
      assert.deepEqual(
        m.log.state.queue.map((e) => e.title),
        Array.from({ length: 20 }, (_, i) => `Song ${i + 1}`),
      )
    }
    const follower = g.members.find((m) => m !== leader)
    assert.ok(follower)
    await assert.rejects(follower.log.propose(enqueue(follower.id, 99)), (err: Error) => {
      assert.ok(err instanceof NotLeaderError)
      assert.equal(err.leader, leader.id)
      return true
    })
    assert.deepEqual(
      follower.log.members().map((m) => m.role),
      ['voter', 'voter', 'voter'],
    )
  })

  it('a killed leader is replaced; every acknowledged command survives and new ones commit', async () => {
    const g = await Group.found(5)
    groups.push(g)
    const first = await g.leader()
    const acknowledged: string[] = []
    for (let n = 1; n <= 10; n++) {
      await first.log.propose(enqueue(first.id, n))
      acknowledged.push(`Song ${n}`)
    }
    // Fire more without waiting, then crash the leader mid-stream.
    const inFlight = Array.from({ length: 5 }, (_, i) =>
      first.log.propose(enqueue(first.id, 11 + i)).then(
        () => `Song ${11 + i}`,
        () => undefined,
      ),
    )
    await g.kill(first)
    for (const title of await Promise.all(inFlight)) if (title !== undefined) acknowledged.push(title)

    const second = await g.leader('a new leader after the kill')
    assert.notEqual(second.id, first.id)
    for (let n = 100; n < 105; n++) {
      const { result } = await second.log.propose(enqueue(first.id, n))
      assert.equal(result.ok, true)
    }
    await g.converged()
    for (const [i, m] of g.members.entries()) {
      if (!m.up) continue
      const queue = titles(g, i)
      for (const title of acknowledged) assert.ok(queue.includes(title), `${title} lost on ${m.id}`)
      assert.deepEqual(queue.slice(-5), ['Song 100', 'Song 101', 'Song 102', 'Song 103', 'Song 104'])
    }
  })

  it('a restarted member resumes from its own disk and catches up', async () => {
    const g = await Group.found(3)
    groups.push(g)
    const leader = await g.leader()
    for (let n = 1; n <= 5; n++) await leader.log.propose(enqueue(leader.id, n))
    await g.converged()
    const follower = g.members.find((m) => m !== leader) as (typeof g.members)[number]
    await follower.log.stop({ handOff: false })
    follower.up = false
    for (let n = 6; n <= 10; n++) await leader.log.propose(enqueue(leader.id, n))

    const { createRaftPartyLog } = await import('../../src/replication/raft-party-log.ts')
    const { monotonicClock } = await import('../../src/shared/clock.ts')
    // No initial state this time: everything comes from the data directory.
    follower.log = createRaftPartyLog(
      { partyId: 'p1', selfId: follower.id, dataDir: follower.dataDir },
      { libp2p: follower.libp2p, clock: monotonicClock },
    )
    await follower.log.start()
    assert.equal(follower.log.state.queue.length >= 5, true, 'state restored from disk before any message')
    follower.up = true
    await g.converged()
    assert.equal(follower.log.commitIndex, 10)
  })

  it('a member who joins late gets a snapshot and replicates as a learner', async () => {
    const g = await Group.found(1, { compactEvery: 5 })
    groups.push(g)
    const host = await g.leader()
    for (let n = 1; n <= 12; n++) await host.log.propose(enqueue(host.id, n))

    const { newLibp2p } = await import('./cluster.ts')
    const { createRaftPartyLog } = await import('../../src/replication/raft-party-log.ts')
    const { monotonicClock } = await import('../../src/shared/clock.ts')
    const { join } = await import('node:path')
    const libp2p = await newLibp2p()
    await libp2p.dial(host.libp2p.getMultiaddrs()[0])
    const id = libp2p.peerId.toString()
    const dataDir = join(g.root, 'late')
    const log = createRaftPartyLog(
      { partyId: 'p1', selfId: id, dataDir, knownPeers: [host.id] },
      { libp2p, clock: monotonicClock },
    )
    g.members.push({ id, libp2p, log, dataDir, up: true })
    await log.start()
    assert.equal(log.role(), 'learner')
    // The party service would do this when the member's join request arrives.
    const joined = await host.log.propose({
      command: { type: 'join', name: 'late' },
      from: id,
      effectivePartyTime: 0,
    })
    assert.equal(joined.result.ok, true)
    await log.synced({ signal: AbortSignal.timeout(20_000) })
    await g.converged()
    assert.equal(log.state.queue.length, 12)
    // Two members: still one voter (an even group adds no fault tolerance)…
    assert.deepEqual(
      host.log.members().map((m) => [m.peerId, m.role]),
      [
        [host.id, 'voter'],
        [id, 'learner'],
      ],
    )
  })

  it('learners who prove reachable are promoted until three members vote', async () => {
    const g = await Group.found(1)
    groups.push(g)
    const host = await g.leader()
    const { newLibp2p } = await import('./cluster.ts')
    const { createRaftPartyLog } = await import('../../src/replication/raft-party-log.ts')
    const { monotonicClock } = await import('../../src/shared/clock.ts')
    const { join } = await import('node:path')
    for (const name of ['b', 'c', 'd']) {
      const libp2p = await newLibp2p()
      await libp2p.dial(host.libp2p.getMultiaddrs()[0])
      const id = libp2p.peerId.toString()
      const dataDir = join(g.root, name)
      const log = createRaftPartyLog(
        { partyId: 'p1', selfId: id, dataDir, knownPeers: [host.id] },
        { libp2p, clock: monotonicClock },
      )
      g.members.push({ id, libp2p, log, dataDir, up: true })
      await log.start()
      await host.log.propose({ command: { type: 'join', name }, from: id, effectivePartyTime: 0 })
    }
    // Four members: three voters (an odd number) and one learner — in every
    // member's configuration, not only the leader's: a change the leader has
    // appended but not yet replicated would not survive the leader.
    await waitFor(
      () =>
        g.members.every((m) => {
          const roles = m.log.members().map((x) => x.role)
          return (
            roles.filter((r) => r === 'voter').length === 3 &&
            roles.filter((r) => r === 'learner').length === 1
          )
        }),
      'three voters and one learner',
    )
    await g.converged()
    // The group now survives its host.
    await g.kill(host)
    const next = await g.leader('a leader among the promoted members')
    const { result } = await next.log.propose(enqueue(next.id, 7))
    assert.equal(result.ok, true)
  })

  it('a leader that leaves hands leadership over first', async () => {
    const g = await Group.found(3)
    groups.push(g)
    const leader = await g.leader()
    await leader.log.propose(enqueue(leader.id, 1))
    const termBefore = leader.log.term()
    await leader.log.handOff()
    const next = await g.leader('the transferee to lead')
    assert.notEqual(next.id, leader.id)
    assert.equal(next.log.term(), termBefore + 1, 'a transfer takes one term: no failed elections')
    const { result } = await next.log.propose(enqueue(next.id, 2))
    assert.equal(result.ok, true)
  })

  it("a member's address book teaches where the others listen; entries for strangers are ignored", async () => {
    const g = await Group.found(3)
    groups.push(g)
    const leader = await g.leader()
    const [follower, other] = g.members.filter((m) => m !== leader)
    const { RAFT_PROTOCOL, RaftFrameSchema, MAX_RAFT_FRAME_BYTES } = await import(
      '../../src/replication/wire.ts'
    )
    const { FramedStream } = await import('../../src/net/framed.ts')
    const { peerIdFromString } = await import('@libp2p/peer-id')
    const { newLibp2p } = await import('./cluster.ts')
    const stranger = await newLibp2p()
    const strangerId = stranger.peerId.toString()
    await stranger.stop()
    const stream = await follower.libp2p.dialProtocol(leader.libp2p.peerId, RAFT_PROTOCOL)
    const framed = new FramedStream(stream, RaftFrameSchema, RaftFrameSchema, {
      maxMessageBytes: MAX_RAFT_FRAME_BYTES,
    })
    await framed.write({
      type: 'addrs',
      from: follower.id,
      to: leader.id,
      peers: [
        { id: other.id, addrs: ['/ip4/127.0.0.1/tcp/4567', 'not a multiaddr'] },
        { id: strangerId, addrs: ['/ip4/127.0.0.1/tcp/4568'] },
      ],
    })
    const addrsOf = async (id: string): Promise<string[]> => {
      const peer = await leader.libp2p.peerStore.get(peerIdFromString(id)).catch(() => undefined)
      return (peer?.addresses ?? []).map((a) => a.multiaddr.toString())
    }
    await waitFor(
      async () => (await addrsOf(other.id)).includes('/ip4/127.0.0.1/tcp/4567'),
      'the address to be learned',
    )
    assert.ok(
      !(await addrsOf(strangerId)).includes('/ip4/127.0.0.1/tcp/4568'),
      'a stranger is not in the book',
    )
    assert.equal(leader.log.stats.streamsReset, 0, 'a bad entry is skipped, not a reason to reset')
    const { result } = await leader.log.propose(enqueue(leader.id, 1))
    assert.equal(result.ok, true)
    await framed.close()
  })

  it('malformed frames and strangers are reset; the node keeps replicating', async () => {
    const g = await Group.found(3)
    groups.push(g)
    const leader = await g.leader()
    const follower = g.members.find((m) => m !== leader) as (typeof g.members)[number]
    const { RAFT_PROTOCOL } = await import('../../src/replication/wire.ts')
    // A member's node sends garbage on the raft protocol.
    const stream = await follower.libp2p.dialProtocol(leader.libp2p.peerId, RAFT_PROTOCOL)
    stream.send(new Uint8Array([5, 0xff, 0xfe, 0x00, 0x13, 0x37]))
    await waitFor(() => leader.log.stats.streamsReset > 0, 'the leader to reject the frame')
    await waitFor(
      () => stream.status === 'reset' || stream.status === 'closed',
      'the garbage stream to be reset',
    )
    // A stranger (not a member) is refused outright.
    const { newLibp2p } = await import('./cluster.ts')
    const stranger = await newLibp2p()
    await stranger.dial(leader.libp2p.getMultiaddrs()[0])
    const s2 = await stranger.dialProtocol(leader.libp2p.peerId, RAFT_PROTOCOL)
    try {
      s2.send(new Uint8Array([1, 0]))
    } catch {
      // already reset by the leader: that is the point
    }
    await waitFor(() => leader.log.stats.streamsRefused > 0, 'the leader to refuse the stranger')
    await stranger.stop()
    const { result } = await leader.log.propose(enqueue(leader.id, 1))
    assert.equal(result.ok, true)
    await g.converged()
    assert.equal(g.members[0].log.commitIndex, 1)
  })
})
