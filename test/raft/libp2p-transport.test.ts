// Raft over real libp2p (loopback TCP): three nodes elect a leader and commit through /tutti/raft/1.0.0; a spoofed sender is refused.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { createLibp2pRaftTransport, type Libp2pRaftTransport } from '../../src/raft/libp2p-transport.ts'
import type { Message } from '../../src/raft/messages.ts'
import { createRaftNode, type RaftNode } from '../../src/raft/node.ts'
import { seededRandom } from '../../src/raft/random.ts'

const peers: TuttiLibp2p[] = []
const transports: Libp2pRaftTransport[] = []
const nodes: RaftNode[] = []
after(async () => {
  for (const n of nodes) await n.stop()
  for (const t of transports) await t.stop()
  for (const p of peers) await p.stop()
})

async function until<T>(what: string, fn: () => T | undefined, ms = 20_000): Promise<T> {
  const deadline = performance.now() + ms
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

test('three libp2p peers replicate a command over /tutti/raft/1.0.0', async () => {
  for (let i = 0; i < 3; i++) {
    peers.push(await createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 }))
  }
  for (const a of peers)
    for (const b of peers) if (a !== b) await a.peerStore.merge(b.peerId, { multiaddrs: b.getMultiaddrs() })
  const ids = peers.map((p) => p.peerId.toString())
  const applied = ids.map(() => [] as string[])
  for (const [i, p] of peers.entries()) {
    const transport = createLibp2pRaftTransport({ libp2p: p })
    await transport.start()
    transports.push(transport)
    const node = createRaftNode(
      { id: ids[i], tickMs: 20, bootstrap: { voters: ids, learners: [] } },
      {
        transport,
        random: seededRandom(i + 1),
        application: {
          apply: (e) => {
            if (e.type === 'normal') applied[i].push(new TextDecoder().decode(e.data))
          },
          restore: () => {},
        },
      },
    )
    await node.start()
    nodes.push(node)
  }
  const leader = await until('a leader', () => nodes.find((n) => n.status().role === 'leader'))
  await leader.propose(new TextEncoder().encode('enqueue song'))
  await until('all applied', () => (applied.every((a) => a.includes('enqueue song')) ? true : undefined))

  // A peer claiming to be someone else is cut off: its message never reaches Raft.
  const received: Message[] = []
  transports[0].onMessage((m) => received.push(m))
  const stream = await peers[1].dialProtocol(peers[0].peerId, '/tutti/raft/1.0.0')
  const { FramedStream } = await import('../../src/net/framed.ts')
  const { raftMessageSchema } = await import('../../src/raft/wire.ts')
  const framed = new FramedStream(stream, raftMessageSchema, raftMessageSchema, { maxMessageBytes: 1 << 20 })
  await framed.write({ type: 'heartbeat', from: ids[2], to: ids[0], term: 99, commit: 0 })
  await new Promise((r) => setTimeout(r, 300))
  assert.equal(received.filter((m) => m.term === 99).length, 0)
})
