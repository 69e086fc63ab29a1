// Public parties through the gossipsub directory: announced on create, listed by a connected node as nearby with a working invite, withdrawn when the party ends.

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

  it('the listing disappears when the party ends', async () => {
    await host.party.leave()
    await waitFor(
      () => guest.party.parties().every((p) => p.name !== 'Open house'),
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
