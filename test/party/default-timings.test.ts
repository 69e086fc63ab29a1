// A party run with the product's default timings (the node passes no heartbeat or removal settings): the host and
// its member exchange a heartbeat a second, not one a millisecond, and a member that vanishes is suspected after
// 3 s and removed after 10 s.

import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { createPartyService, type PartyService } from '../../src/party/service.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'

async function makeNode(name: string): Promise<{ libp2p: TuttiLibp2p; party: PartyService }> {
  const key = await generateKeyPair('Ed25519')
  const libp2p = await createTuttiLibp2p({ privateKey: key, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
  // As src/node/node.ts builds it: every timing left to the party's defaults.
  const party = createPartyService(
    { dataDir: mkdtempSync(join(tmpdir(), 'tutti-party-')), displayName: name },
    { libp2p, clock: monotonicClock, privateKey: key },
  )
  await party.start()
  return { libp2p, party }
}

describe('party with default timings', { timeout: 60_000 }, () => {
  const nodes: Array<{ libp2p: TuttiLibp2p; party: PartyService }> = []
  after(async () => {
    for (const n of nodes) {
      await n.party.stop().catch(() => {})
      await Promise.resolve(n.libp2p.stop()).catch(() => {})
    }
  })

  it('heartbeats once a second each way (an undefined setting does not make a 1 ms timer)', async () => {
    const [host, member] = await Promise.all([makeNode('Host'), makeNode('Member')])
    nodes.push(host, member)
    const { invite } = await host.party.create({ name: 'Defaults' })
    await member.party.join(invite)
    await waitFor(() => host.party.status()?.members.length === 2, 'the member is in')
    // Every heartbeat the host sends carries the members' stats, and each one updates the member's status.
    let updates = 0
    const off = member.party.on('party:update', () => updates++)
    await new Promise((r) => setTimeout(r, 2_500))
    off()
    assert.ok(updates >= 1, 'the host still sends heartbeats')
    assert.ok(updates <= 8, `${updates} status updates in 2.5 s: heartbeats are not once a second`)
  })

  it('a member that vanishes is suspected, then removed (an undefined setting does not mean never)', async () => {
    const [host] = nodes
    const invite = host.party.status()?.invite ?? assert.fail('no party')
    const gone = await makeNode('Gone')
    nodes.push(gone)
    await gone.party.join(invite)
    const goneId = gone.libp2p.peerId.toString()
    await waitFor(() => host.party.status()?.members.some((m) => m.peerId === goneId) === true, 'joined')
    const vanished = performance.now()
    await gone.libp2p.stop() // no goodbye
    const member = () => host.party.status()?.members.find((m) => m.peerId === goneId)
    await waitFor(() => member()?.suspected === true, 'suspected', { timeoutMs: 8_000 })
    await waitFor(() => member() === undefined, 'removed', { timeoutMs: 20_000 })
    const removedAfter = performance.now() - vanished
    assert.ok(
      removedAfter > 9_000,
      `removed ${removedAfter.toFixed(0)} ms after it vanished: the default is 10 s`,
    )
  })
})
