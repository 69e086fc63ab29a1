// Peer discovery on loopback: bootstrap, ping, the peer table, and finding a third peer through the Tutti DHT.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { PeerTable } from '../../src/net/peer-table.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'

const nodes: TuttiLibp2p[] = []
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
})

async function node(bootstrap: string[] = []): Promise<TuttiLibp2p> {
  // No auto-dial: the DHT test must prove c learns of a through the DHT, not by being handed it.
  const n = await createTuttiLibp2p({
    mdns: false,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap,
    autoDialBelow: 0,
  })
  nodes.push(n)
  return n
}

test('two nodes joined by --bootstrap connect, ping and list each other with an RTT', async () => {
  const a = await node()
  const b = await node(a.getMultiaddrs().map(String))
  const tableA = new PeerTable({ pingIntervalMs: 200 }, { libp2p: a, clock: monotonicClock })
  const tableB = new PeerTable({ pingIntervalMs: 200 }, { libp2p: b, clock: monotonicClock })
  tableA.start()
  tableB.start()
  try {
    await waitFor(() => tableA.get(b.peerId.toString())?.rttMs !== undefined, 'a to measure b')
    await waitFor(() => tableB.get(a.peerId.toString())?.rttMs !== undefined, 'b to measure a')
    const seenByB = tableB.get(a.peerId.toString())
    assert.equal(seenByB?.connected, true)
    assert.ok(
      seenByB?.addresses.some((addr) => addr.includes('/ip4/127.0.0.1/tcp/')),
      'address of a is listed',
    )
    assert.ok((seenByB?.rttMs ?? -1) >= 0)
  } finally {
    tableA.stop()
    tableB.stop()
  }
})

test('a third node that knows only one peer finds the other through the DHT', async () => {
  const a = await node()
  const b = await node(a.getMultiaddrs().map(String))
  await waitFor(() => b.getConnections(a.peerId).length > 0, 'b connected to a')
  const c = await node(b.getMultiaddrs().map(String))
  await waitFor(() => c.getConnections(b.peerId).length > 0, 'c connected to b')
  assert.equal(c.getConnections(a.peerId).length, 0, 'c was not told about a directly')
  let found: string[] = []
  await waitFor(async () => {
    for await (const event of c.services.dht.findPeer(a.peerId, { signal: AbortSignal.timeout(5_000) })) {
      if (event.name === 'FINAL_PEER') found = event.peer.multiaddrs.map(String)
    }
    return found.length > 0
  }, 'c to find a via the DHT')
  assert.ok(found.some((addr) => addr.includes('/ip4/127.0.0.1/tcp/')))
  await c.dial(a.peerId)
  assert.ok((await c.services.ping.ping(a.peerId)) >= 0)
})
