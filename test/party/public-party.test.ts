// Public parties through the gossipsub directory: announced on create, listed by a connected node as nearby with a working invite, withdrawn when the party ends; after the host dies, the new host keeps announcing it and a newcomer joins from the listing.

import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createDirectory, type Directory } from '../../src/directory/index.ts'
import { PARTY_TOPIC } from '../../src/directory/schema.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { createPartyService, isPrivateAddress, type PartyService } from '../../src/party/service.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'

interface Node {
  libp2p: TuttiLibp2p
  directory: Directory
  party: PartyService
}

async function makeNode(name: string): Promise<Node> {
  const key = await generateKeyPair('Ed25519')
  const libp2p = await createTuttiLibp2p({
    privateKey: key,
    mdns: false,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    autoDialBelow: 0,
  })
  const directory = createDirectory(
    { announceIntervalMs: 300, ttlMs: 1_500 },
    { libp2p, clock: monotonicClock },
  )
  directory.start()
  const party = createPartyService(
    { dataDir: mkdtempSync(join(tmpdir(), 'tutti-party-')), displayName: name, announceIntervalMs: 300 },
    { libp2p, clock: monotonicClock, privateKey: key, directory },
  )
  await party.start()
  return { libp2p, directory, party }
}

describe('public parties', { timeout: 60_000 }, () => {
  let host: Node
  let guest: Node

  before(async () => {
    ;[host, guest] = await Promise.all([makeNode('Host'), makeNode('Guest')])
    await guest.libp2p.dial(host.libp2p.getMultiaddrs()[0])
    await waitFor(
      () => [host, guest].every((n) => n.libp2p.services.pubsub.getSubscribers(PARTY_TOPIC).length > 0),
      'gossip subscriptions',
    )
  })

  after(async () => {
    for (const n of [host, guest]) {
      await n?.party.stop().catch(() => {})
      await n?.directory.stop().catch(() => {})
      await Promise.resolve(n?.libp2p.stop()).catch(() => {})
    }
  })

  it('a public party shows up nearby on a connected node, and its listed invite works', async () => {
    await host.party.create({ name: 'Open house', public: true })
    await waitFor(() => guest.party.parties().some((p) => p.name === 'Open house'), 'the guest lists it')
    const found = guest.party.parties().find((p) => p.name === 'Open house')
    assert.equal(found?.nearby, true)
    await guest.party.join(found?.invite ?? '')
    await waitFor(() => host.party.status()?.members.length === 2, 'the guest is a member')
  })

  it('the listing moves to the guest when the host leaves, and disappears when the party ends', async () => {
    await host.party.leave()
    // The party goes on with the guest as its host, still public.
    await waitFor(
      () =>
        host.party
          .parties()
          .some((p) => p.name === 'Open house' && p.host.peerId === guest.libp2p.peerId.toString()),
      'the guest announces the party',
    )
    await guest.party.leave()
    await waitFor(
      () => host.party.parties().every((p) => p.name !== 'Open house'),
      'the listing is withdrawn',
    )
  })

  it('classifies LAN and loopback addresses as nearby, public ones not', () => {
    assert.equal(isPrivateAddress('/ip4/192.168.1.20/tcp/4001'), true)
    assert.equal(isPrivateAddress('/ip4/10.3.2.1/tcp/4001'), true)
    assert.equal(isPrivateAddress('/ip4/172.20.0.5/tcp/4001'), true)
    assert.equal(isPrivateAddress('/ip6/fe80::1/tcp/4001'), true)
    assert.equal(isPrivateAddress('/ip4/8.8.8.8/tcp/4001'), false)
    assert.equal(isPrivateAddress('/ip4/172.32.0.1/tcp/4001'), false)
  })
})

describe('a public party after failover', { timeout: 90_000 }, () => {
  const nodes: Node[] = []

  after(async () => {
    for (const n of nodes) {
      await n.party.stop().catch(() => {})
      await n.directory.stop().catch(() => {})
      await Promise.resolve(n.libp2p.stop()).catch(() => {})
    }
  })

  it('the new host announces it, the dead host’s listing goes, and a newcomer joins from the new listing', async () => {
    const [host, alice, bob, newcomer] = await Promise.all(
      ['Host', 'Alice', 'Bob', 'Newcomer'].map((name) => makeNode(name)),
    )
    nodes.push(host, alice, bob, newcomer)
    for (const a of nodes)
      for (const b of nodes) if (a !== b) await a.libp2p.dial(b.libp2p.getMultiaddrs()[0])
    await waitFor(
      () => nodes.every((n) => n.libp2p.services.pubsub.getSubscribers(PARTY_TOPIC).length >= 3),
      'gossip subscriptions',
    )
    const { status } = await host.party.create({ name: 'Survivor', public: true })
    const partyId = status.partyId
    const listed = () => newcomer.party.parties().filter((p) => p.partyId === partyId)
    await waitFor(() => listed().length === 1, 'the newcomer lists the party')
    // Alice and Bob join through the listing: their invites are the public one.
    for (const n of [alice, bob]) await n.party.join(listed()[0].invite)
    // Every one of them must know it: a voter that has not applied the last promotion could not win an election.
    await waitFor(
      () =>
        [host, alice, bob].every(
          (n) => n.party.status()?.members.filter((m) => m.replica === 'voter').length === 3,
        ),
      'three voters, as every member sees it',
    )

    // The host's node dies without withdrawing its advert.
    const hostId = host.libp2p.peerId.toString()
    await host.libp2p.stop()
    let leader: string | undefined
    await waitFor(() => {
      leader = alice.party.status()?.leader
      return leader !== undefined && leader !== hostId && bob.party.status()?.leader === leader
    }, 'a new leader')
    await waitFor(
      () => listed().length === 1 && listed()[0].host.peerId === leader,
      'the party is listed once, by its new host',
    )
    const directoryAdverts = newcomer.directory.listParties().filter((p) => p.partyId === partyId)
    assert.ok(directoryAdverts.some((p) => p.host.peerId === leader))

    const joined = await newcomer.party.join(listed()[0].invite)
    assert.equal(joined.partyId, partyId)
    await waitFor(
      () => alice.party.status()?.members.some((m) => m.name === 'Newcomer') === true,
      'the newcomer is a member',
    )
    // The dead host's advert expires (TTL) and is not renewed: only the new host's remains.
    await waitFor(
      () => newcomer.directory.listParties().every((p) => p.partyId !== partyId || p.host.peerId !== hostId),
      'the dead host’s advert expires',
    )
  })
})
