// A member whose node restarts (same key and data directory, new port) is back in its party from its own persisted state, without a new invite: it sees what was committed while it was away, plays the same timeline, and its commands work.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { createPartyService, type PartyService } from '../../src/party/service.ts'
import { resumePath } from '../../src/replication/resume.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { fillDisk, mountTinyDisk, tmpfsUnavailableReason } from '../helpers/tmpfs.ts'
import { waitFor } from '../helpers/wait.ts'

interface TestNode {
  name: string
  key: PrivateKey
  dataDir: string
  libp2p: TuttiLibp2p
  party: PartyService
  id: string
}

const nodes: TestNode[] = []
const mounts: Array<{ unmount(): void }> = []
after(async () => {
  for (const m of mounts) m.unmount()
  for (const n of nodes) {
    await n.party.stop().catch(() => {})
    await Promise.resolve(n.libp2p.stop()).catch(() => {})
  }
  for (const n of nodes) await rm(n.dataDir, { recursive: true, force: true })
})

async function startNode(name: string, key?: PrivateKey, dataDir?: string): Promise<TestNode> {
  const privateKey = key ?? (await generateKeyPair('Ed25519'))
  const libp2p = await createTuttiLibp2p({ privateKey, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'tutti-rejoin-'))
  const party = createPartyService(
    { dataDir: dir, displayName: name, heartbeatMs: 200, suspectAfterMs: 1_000, removeAfterMs: 60_000 },
    { libp2p, clock: monotonicClock, privateKey },
  )
  await party.start()
  const node = { name, key: privateKey, dataDir: dir, libp2p, party, id: libp2p.peerId.toString() }
  nodes.push(node)
  return node
}

const song = (n: number) => ({ cid: `bafysong${n}`, title: `Song ${n}`, artist: 'Band', durationSec: 600 })

/** Position (ms) minus local time (ms): the same on every member playing the same timeline. */
function mapping(n: TestNode): number {
  const s = n.party.status() ?? assert.fail(`${n.name} is not in a party`)
  return s.nowPlaying.position * 1000 - monotonicClock.now()
}

it('a restarted member rejoins its party from disk, without a new invite', { timeout: 120_000 }, async () => {
  const [host, alice, bob] = await Promise.all([startNode('Host'), startNode('Alice'), startNode('Bob')])
  const { invite, status } = await host.party.create({ name: 'Rejoin', permissions: { mode: 'everyone' } })
  await alice.party.join(invite)
  await bob.party.join(invite)
  await waitFor(
    () => host.party.status()?.members.every((m) => m.replica === 'voter') === true,
    'all three members to be Raft voters',
  )
  await host.party.command({ type: 'enqueue', song: song(1) })
  await host.party.command({ type: 'play' })
  await waitFor(() => bob.party.status()?.nowPlaying.playing === true, 'Bob hears song 1')

  // Bob's node stops (its party state stays on disk); the party goes on without it.
  await bob.party.stop()
  await bob.libp2p.stop()
  nodes.splice(nodes.indexOf(bob), 1)
  await host.party.command({ type: 'enqueue', song: song(2) })

  // Same key and data directory, a new port: the party comes back by itself.
  const again = await startNode('Bob', bob.key, bob.dataDir)
  await waitFor(
    () => {
      const s = again.party.status()
      return (
        s?.partyId === status.partyId &&
        s.connection === 'connected' &&
        s.queue.some((e) => e.cid === 'bafysong2') &&
        s.nowPlaying.playing
      )
    },
    'the restarted node to be back in the party, caught up and playing',
    { timeoutMs: 30_000 },
  )
  assert.equal(again.party.status()?.role, 'member')
  // Its party clock converges on the host's: the same timeline as Alice's.
  await waitFor(
    () => Math.abs(mapping(again) - mapping(alice)) < 20,
    'Bob to play the same timeline as Alice',
    {
      timeoutMs: 30_000,
    },
  )
  // Its commands work, and everyone sees them.
  const { result } = await again.party.command({ type: 'enqueue', song: song(3) })
  assert.equal(result.ok, true)
  await waitFor(
    () => [host, alice, again].every((n) => n.party.status()?.queue.some((e) => e.cid === 'bafysong3')),
    "Bob's command to reach everyone",
  )
  assert.deepEqual(
    host.party
      .status()
      ?.members.map((m) => m.peerId)
      .sort(),
    [host.id, alice.id, bob.id].sort(),
    'no second membership: Bob rejoined as himself',
  )
})

it('a node that left its party does not rejoin it on restart', { timeout: 60_000 }, async () => {
  const alice = nodes.find((n) => n.name === 'Alice') ?? assert.fail('no Alice')
  await alice.party.leave()
  await alice.party.stop()
  await alice.libp2p.stop()
  nodes.splice(nodes.indexOf(alice), 1)
  const again = await startNode('Alice', alice.key, alice.dataDir)
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  assert.equal(again.party.status(), undefined)
})

it('a party of two: while its host is down the member keeps playing and says reconnecting; the restarted host picks the party up again', {
  timeout: 120_000,
}, async () => {
  const [host, guest] = await Promise.all([startNode('Host2'), startNode('Guest')])
  const { invite, status } = await host.party.create({ name: 'Two', permissions: { mode: 'everyone' } })
  await guest.party.join(invite)
  await guest.party.command({ type: 'enqueue', song: song(1) })
  await guest.party.command({ type: 'play' })
  await waitFor(() => guest.party.status()?.nowPlaying.playing === true, 'the guest hears song 1')
  const before = mapping(guest)

  // The host's node dies: its network first (no hand-off possible), then the rest of it.
  await host.libp2p.stop()
  await host.party.stop()
  nodes.splice(nodes.indexOf(host), 1)
  await waitFor(() => guest.party.status()?.connection === 'reconnecting', 'the guest to say reconnecting')
  await assert.rejects(guest.party.command({ type: 'skip' }), { name: 'PartyReconnectingError' })
  assert.ok(Math.abs(mapping(guest) - before) < 20, 'the guest keeps playing the committed timeline')

  const again = await startNode('Host2', host.key, host.dataDir)
  await waitFor(
    () =>
      again.party.status()?.partyId === status.partyId &&
      again.party.status()?.role === 'host' &&
      guest.party.status()?.connection === 'connected',
    'the restarted host to lead its party again, with the guest connected',
    { timeoutMs: 30_000 },
  )
  const { result } = await guest.party.command({ type: 'enqueue', song: song(2) })
  assert.equal(result.ok, true, "the guest's commands work again")
  await waitFor(
    () => again.party.status()?.queue.some((e) => e.cid === 'bafysong2') === true,
    'the host to see it',
  )
})

it('a member whose disk fills leaves its party with the reason; with room again, a restart rejoins and catches up', {
  timeout: 120_000,
  skip: tmpfsUnavailableReason(),
}, async () => {
  const host = await startNode('Host3')
  const dir = mkdtempSync(join(tmpdir(), 'tutti-full-member-'))
  const disk = mountTinyDisk(dir, '512k')
  mounts.push(disk)
  const member = await startNode('Full', undefined, dir)
  const { invite, status } = await host.party.create({ name: 'Full disk', permissions: { mode: 'everyone' } })
  await member.party.join(invite)
  await waitFor(
    () => host.party.status()?.members.find((m) => m.peerId === member.id)?.replica !== undefined,
    'the member to replicate the log',
  )
  // What a restart needs (the invite, where the host listens) is on the member's disk before it fills.
  const resumeFile = resumePath(dir, status.partyId)
  await waitFor(
    () => existsSync(resumeFile) && readFileSync(resumeFile, 'utf8').includes(host.id),
    'the member to note where the host listens',
  )
  const closed = new Promise<string>((resolve) =>
    member.party.on('party:closed', ({ reason }) => resolve(reason)),
  )
  // Fill the member's disk, then keep the host committing until the member's log needs room it has not got.
  const filler = fillDisk(dir)
  let reason: string | undefined
  void closed.then((r) => {
    reason = r
  })
  for (let n = 1; reason === undefined; n++) {
    assert.ok(n < 2_000, 'the member never ran out of room')
    await host.party.command({ type: 'enqueue', song: song(100 + n) })
  }
  assert.match(reason, /no space left on the disk for the party log/)
  assert.equal(member.party.status(), undefined, 'the member left the session')
  assert.ok(host.party.status()?.queue.length, 'the host carries on')
  await member.party.command({ type: 'pause' }).then(
    () => assert.fail('a command without a party must fail'),
    (err: Error) => assert.ok(err.message.length > 0),
  )

  // Room again: the same node restarts and is back, caught up.
  rmSync(filler)
  await member.party.stop()
  await member.libp2p.stop()
  nodes.splice(nodes.indexOf(member), 1)
  await host.party.command({ type: 'enqueue', song: song(99) })
  const again = await startNode('Full', member.key, dir)
  await waitFor(
    () => {
      const s = again.party.status()
      return s?.partyId === status.partyId && s.queue.some((e) => e.cid === 'bafysong99')
    },
    'the member to rejoin from its disk and catch up',
    { timeoutMs: 30_000 },
  )
  assert.deepEqual(
    again.party.status()?.queue.map((e) => e.cid),
    host.party.status()?.queue.map((e) => e.cid),
    'the same queue as the host',
  )
})
