// No single point of failure, with real node processes: a node given several bootstrap addresses (one of
// them dead) joins through the live ones, and after a clean restart it rejoins through the peers it
// remembered (peers.json) even when every bootstrap node is gone.
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { type NodeProcess, startNode, tutti } from '../helpers/node-process.ts'
import { waitFor } from '../helpers/wait.ts'

const running: NodeProcess[] = []
after(async () => {
  await Promise.all(running.map((n) => n.stop('SIGKILL')))
})

async function node(args: string[], dataDir?: string): Promise<NodeProcess> {
  const n = await startNode(args, { dataDir })
  running.push(n)
  return n
}

type Peer = { peerId: string; connected: boolean }
function connectedPeers(n: NodeProcess): string[] {
  const r = tutti(['peers', '--data', n.dataDir, '--json'])
  assert.equal(r.status, 0, r.stderr)
  return (JSON.parse(r.stdout) as Peer[]).filter((p) => p.connected).map((p) => p.peerId)
}

/** A TCP port on loopback that nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  assert.ok(address !== null && typeof address === 'object')
  return address.port
}

test('several bootstrap addresses, one dead: the node joins through the others; restarted with every bootstrap node gone, it rejoins through remembered peers', async () => {
  const first = await node([])
  const second = await node([])
  // A well-formed address of a bootstrap node that is gone: its own identity, a closed port.
  const deadId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const dead = `/ip4/127.0.0.1/tcp/${await deadPort()}/p2p/${deadId}`
  const bootstrap = [dead, first.listenAddrs[0], second.listenAddrs[0]].flatMap((a) => ['--bootstrap', a])
  const me = await node(bootstrap)
  await waitFor(() => {
    const peers = connectedPeers(me)
    return peers.includes(first.peerId) && peers.includes(second.peerId)
  }, 'the node to reach both live bootstrap nodes')

  // A friend who knows only this node; the node learns and remembers it.
  const friend = await node(['--bootstrap', me.listenAddrs[0]])
  await waitFor(() => connectedPeers(me).includes(friend.peerId), 'the friend to connect')
  assert.equal(await me.stop('SIGINT'), 0, 'a clean stop (saves peers.json)')
  await Promise.all([first.stop('SIGKILL'), second.stop('SIGKILL')])

  const again = await node(bootstrap, me.dataDir)
  assert.equal(again.peerId, me.peerId, 'same identity')
  await waitFor(
    () => connectedPeers(again).includes(friend.peerId),
    'the restarted node to rejoin through the friend',
  )
  assert.ok(!connectedPeers(again).includes(first.peerId), 'no bootstrap node is alive')
})
