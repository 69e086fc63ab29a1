// The party survives its host: a 3-member party on loopback libp2p (each node with its own clock offset) plays a song, the host's node dies; a new host is elected, every survivor's timeline mapping (party time → position) stays put, acknowledged commands survive, and commands work afterwards.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { createPartyService, type PartyService } from '../../src/party/service.ts'
import { type Clock, monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'

interface TestNode {
  name: string
  libp2p: TuttiLibp2p
  party: PartyService
  clock: Clock
  id: string
}

async function makeNode(name: string, clockOffsetMs: number): Promise<TestNode> {
  const key = await generateKeyPair('Ed25519')
  const libp2p = await createTuttiLibp2p({ privateKey: key, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
  // Each node's local clock is off by its own amount: party time must still be one timeline.
  const clock: Clock = { now: () => monotonicClock.now() + clockOffsetMs }
  const party = createPartyService(
    {
      dataDir: mkdtempSync(join(tmpdir(), 'tutti-failover-')),
      displayName: name,
      heartbeatMs: 200,
      suspectAfterMs: 1_000,
      removeAfterMs: 3_000,
    },
    { libp2p, clock, privateKey: key },
  )
  await party.start()
  return { name, libp2p, party, clock, id: libp2p.peerId.toString() }
}

const song = (n: number, durationSec = 600) => ({
  cid: `bafysong${n}`,
  title: `Song ${n}`,
  artist: 'Band',
  durationSec,
})

/** Where this node's timeline puts playback, as "position (ms) minus local time (ms)": constant while playing. */
function mapping(n: TestNode): number {
  const local = n.clock.now()
  const s = n.party.status() ?? assert.fail(`${n.name} is not in the party`)
  assert.equal(s.nowPlaying.playing, true, `${n.name} is playing`)
  return s.nowPlaying.position * 1000 - local
}

/** Three voters in one party (host, Alice, Bob with skewed clocks) playing song 1, everyone hearing it. */
async function playingParty(
  name: string,
  offsetsMs: [number, number, number],
  nodes: TestNode[],
): Promise<TestNode[]> {
  const [host, alice, bob] = await Promise.all([
    makeNode('Host', offsetsMs[0]),
    makeNode('Alice', offsetsMs[1]),
    makeNode('Bob', offsetsMs[2]),
  ])
  nodes.push(host, alice, bob)
  const { invite } = await host.party.create({ name, permissions: { mode: 'everyone' } })
  await alice.party.join(invite)
  await bob.party.join(invite)
  // As every member sees it: a host killed before its last promotion reached the others leaves no quorum.
  await waitFor(
    () =>
      [host, alice, bob].every(
        (n) => n.party.status()?.members.filter((m) => m.replica === 'voter').length === 3,
      ),
    'all three members are Raft voters',
  )
  await alice.party.command({ type: 'enqueue', song: song(1) })
  await host.party.command({ type: 'play' })
  await waitFor(
    () => [host, alice, bob].every((n) => n.party.status()?.nowPlaying.playing === true),
    'everyone hears song 1',
  )
  return [host, alice, bob]
}

async function stopAll(nodes: TestNode[]): Promise<void> {
  for (const n of nodes) {
    await n.party.stop().catch(() => {})
    await Promise.resolve(n.libp2p.stop()).catch(() => {})
  }
}

describe('host failover', { timeout: 120_000 }, () => {
  const nodes: TestNode[] = []

  after(() => stopAll(nodes))

  it('a new host takes over without moving anyone’s timeline; acknowledged commands survive', async () => {
    const [host, alice, bob] = await playingParty('Failover', [0, 3_000, -2_000], nodes)
    // Acknowledged before the crash: must be in every survivor's state.
    await bob.party.command({ type: 'enqueue', song: song(2) })
    await new Promise((resolve) => setTimeout(resolve, 300))
    const before = new Map([alice, bob].map((n) => [n.id, mapping(n)]))

    // The host's node dies without a word.
    const killedAt = performance.now()
    await host.libp2p.stop()
    const survivors = [alice, bob]
    let maxJumpDuringElection = 0
    await waitFor(
      () => {
        for (const n of survivors) {
          maxJumpDuringElection = Math.max(
            maxJumpDuringElection,
            Math.abs(mapping(n) - (before.get(n.id) ?? 0)),
          )
        }
        const leaders = survivors.map((n) => n.party.status()?.leader)
        return leaders[0] !== undefined && leaders[0] !== host.id && leaders.every((l) => l === leaders[0])
      },
      'the survivors elect a new leader',
      { intervalMs: 10 },
    )
    const electedMs = performance.now() - killedAt
    const newHostId = alice.party.status()?.leader ?? assert.fail('no leader')
    await waitFor(
      () => survivors.every((n) => n.party.status()?.hostPeerId === newHostId),
      'the new leader is the party host everywhere',
    )
    const hostChangedMs = performance.now() - killedAt
    console.log(
      `election: new leader after ${electedMs.toFixed(0)} ms, host role committed after ${hostChangedMs.toFixed(0)} ms`,
    )

    // Members re-point their party clock at the new host; give the samples a moment.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    for (const n of survivors) {
      const jump = Math.abs(mapping(n) - (before.get(n.id) ?? 0))
      console.log(
        `${n.name}: timeline moved ${jump.toFixed(2)} ms across the failover (max during election ${maxJumpDuringElection.toFixed(2)} ms)`,
      )
      assert.ok(jump < 20, `${n.name}'s timeline jumped ${jump.toFixed(1)} ms`)
    }
    assert.ok(
      maxJumpDuringElection < 20,
      `a timeline jumped ${maxJumpDuringElection.toFixed(1)} ms during the election`,
    )

    for (const n of survivors) {
      assert.deepEqual(
        n.party.status()?.queue.map((e) => e.cid),
        ['bafysong1', 'bafysong2'],
        `${n.name} keeps the acknowledged commands`,
      )
      assert.equal(n.party.status()?.role, n.id === newHostId ? 'host' : 'member')
    }
    // Commands work afterwards, from the new host and from the other survivor.
    const follower = survivors.find((n) => n.id !== newHostId) ?? assert.fail('no follower')
    const leader = survivors.find((n) => n.id === newHostId) ?? assert.fail('no leader node')
    await follower.party.command({ type: 'enqueue', song: song(3) })
    await leader.party.command({ type: 'enqueue', song: song(4) })
    await waitFor(
      () => survivors.every((n) => n.party.status()?.queue.length === 4),
      'new commands reach both survivors',
    )
  })

  it('alone on the minority side, a member says it is reconnecting and refuses commands at once (and keeps playing)', async () => {
    const [, alice, bob] = nodes
    const leaderId = alice.party.status()?.leader ?? assert.fail('no leader')
    const [gone, left] = leaderId === alice.id ? [alice, bob] : [bob, alice]
    const before = mapping(left)
    await gone.libp2p.stop()
    // One voter of three: no quorum, so no leader.
    await waitFor(() => left.party.status()?.connection === 'reconnecting', 'the survivor shows reconnecting')
    const t = performance.now()
    await assert.rejects(left.party.command({ type: 'skip' }), (err: Error) => {
      assert.equal(err.name, 'PartyReconnectingError')
      assert.match(err.message, /reconnecting/)
      return true
    })
    console.log(`minority side: command refused after ${(performance.now() - t).toFixed(1)} ms`)
    // The committed timeline keeps playing meanwhile.
    assert.ok(Math.abs(mapping(left) - before) < 20, 'the timeline did not move')
  })
})

describe('graceful hand-off', { timeout: 120_000 }, () => {
  const nodes: TestNode[] = []

  after(() => stopAll(nodes))

  it('a host that leaves hands the party over: the others keep playing, with a new host, and it is gone from the members', async () => {
    const [host, alice, bob] = await playingParty('Hand-off', [0, 1_500, -700], nodes)
    const before = new Map([alice, bob].map((n) => [n.id, mapping(n)]))
    const t = performance.now()
    await host.party.leave()
    console.log(`hand-off: the host was out after ${(performance.now() - t).toFixed(0)} ms`)
    assert.equal(host.party.status(), undefined)
    await waitFor(
      () =>
        [alice, bob].every(
          (n) => n.party.status()?.members.length === 2 && n.party.status()?.hostPeerId !== host.id,
        ),
      'the others have a new host and two members',
    )
    for (const n of [alice, bob]) {
      const jump = Math.abs(mapping(n) - (before.get(n.id) ?? 0))
      assert.ok(jump < 20, `${n.name}'s timeline jumped ${jump.toFixed(1)} ms`)
    }
    await bob.party.command({ type: 'enqueue', song: song(2) })
    await waitFor(() => alice.party.status()?.queue.length === 2, 'commands work after the hand-off')
  })
})
