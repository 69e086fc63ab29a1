// The party directory over real gossipsub on loopback: announce, re-announce, list on other nodes, withdraw, expire, forged announcements rejected.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { createDirectory, type Directory } from '../../src/directory/index.ts'
import { DirectoryMessage, PARTY_TOPIC } from '../../src/directory/schema.ts'
import { encodeMessage } from '../../src/net/framed.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'

const nodes: Array<{ libp2p: TuttiLibp2p; directory: Directory }> = []

before(async () => {
  for (let i = 0; i < 3; i++) {
    const libp2p = await createTuttiLibp2p({
      mdns: false,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      autoDialBelow: 0,
    })
    const directory = createDirectory(
      { announceIntervalMs: 300, ttlMs: 1_500 },
      { libp2p, clock: monotonicClock },
    )
    directory.start()
    nodes.push({ libp2p, directory })
  }
  // A line: the third node hears the first only through the second (gossip relays it).
  await nodes[0].libp2p.dial(nodes[1].libp2p.getMultiaddrs()[0])
  await nodes[1].libp2p.dial(nodes[2].libp2p.getMultiaddrs()[0])
  await waitFor(
    () => nodes.every((n) => n.libp2p.services.pubsub.getSubscribers(PARTY_TOPIC).length > 0),
    'everyone to see a subscriber',
  )
})
after(async () => {
  for (const n of nodes) {
    await n.directory.stop()
    await n.libp2p.stop()
  }
})

test('a public party announced by one node is listed by the others, with host and now playing', async () => {
  const [host, , far] = nodes
  await host.directory.announce({
    partyId: 'friday',
    name: 'Friday',
    members: 4,
    joinPolicy: 'open',
    nowPlaying: { title: 'Jolene', artist: 'Dolly Parton' },
  })
  await waitFor(
    () => far.directory.listParties().some((p) => p.partyId === 'friday'),
    'the far node to list it',
  )
  const party = far.directory.listParties().find((p) => p.partyId === 'friday')
  assert.equal(party?.host.peerId, host.libp2p.peerId.toString())
  assert.ok((party?.host.addrs.length ?? 0) > 0, 'with addresses to join at')
  assert.equal(party?.members, 4)
  assert.equal(party?.nowPlaying?.title, 'Jolene')
  assert.ok(
    host.directory.listParties().some((p) => p.partyId === 'friday'),
    'the host lists its own party',
  )
  // Updates arrive (member count changes).
  await host.directory.announce({ partyId: 'friday', name: 'Friday', members: 7, joinPolicy: 'open' })
  await waitFor(
    () => far.directory.listParties().find((p) => p.partyId === 'friday')?.members === 7,
    'the update',
  )
  // Kept alive by re-announcement well past the TTL.
  await new Promise((resolve) => setTimeout(resolve, 2_500))
  assert.ok(
    far.directory.listParties().some((p) => p.partyId === 'friday'),
    're-announced, so still listed',
  )
})

test('a withdrawn party disappears everywhere', async () => {
  const [host, , far] = nodes
  await host.directory.announce({ partyId: 'gone', name: 'Short', members: 1, joinPolicy: 'ask' })
  await waitFor(() => far.directory.listParties().some((p) => p.partyId === 'gone'), 'it to be listed')
  await host.directory.withdraw('gone')
  await waitFor(() => !far.directory.listParties().some((p) => p.partyId === 'gone'), 'it to be withdrawn')
})

test('a party whose host vanishes expires after the TTL', async () => {
  const [, middle, far] = nodes
  const libp2p = await createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 })
  const directory = createDirectory(
    { announceIntervalMs: 300, ttlMs: 1_500 },
    { libp2p, clock: monotonicClock },
  )
  directory.start()
  await libp2p.dial(middle.libp2p.getMultiaddrs()[0])
  await waitFor(
    () => libp2p.services.pubsub.getSubscribers(PARTY_TOPIC).length > 0,
    'the new host to join the topic',
  )
  await directory.announce({ partyId: 'vanish', name: 'Vanishing', members: 2, joinPolicy: 'open' })
  await waitFor(() => far.directory.listParties().some((p) => p.partyId === 'vanish'), 'it to be listed')
  // A crash: the node goes away without withdrawing.
  await libp2p.stop()
  await waitFor(() => !far.directory.listParties().some((p) => p.partyId === 'vanish'), 'it to expire', {
    timeoutMs: 15_000,
  })
  await directory.stop()
})

test('an announcement naming someone else as host is rejected', async () => {
  const [host, middle, far] = nodes
  const forged = encodeMessage(DirectoryMessage, {
    type: 'announce',
    partyId: 'forged',
    name: 'Not mine',
    host: { peerId: host.libp2p.peerId.toString(), addrs: [] },
    members: 99,
    joinPolicy: 'open',
    seq: Number.MAX_SAFE_INTEGER - 1,
    ttlMs: 30_000,
  })
  await middle.libp2p.services.pubsub.publish(PARTY_TOPIC, forged).catch(() => {})
  await new Promise((resolve) => setTimeout(resolve, 1_500))
  assert.ok(!far.directory.listParties().some((p) => p.partyId === 'forged'))
  assert.ok(!host.directory.listParties().some((p) => p.partyId === 'forged'))
})
