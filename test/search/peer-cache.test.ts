// The peer cache: known peers persist to <dataDir>/peers.json, and a restarted node rejoins through them when every bootstrap node is gone.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { createPeerCache } from '../../src/search/peer-cache.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'

const running: TuttiLibp2p[] = []
const dirs: string[] = []
after(async () => {
  await Promise.all(running.map((n) => n.stop()))
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

async function node(bootstrap: string[] = []): Promise<TuttiLibp2p> {
  const n = await createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap })
  running.push(n)
  return n
}

test('a restarted node rejoins through cached peers after every bootstrap node is gone', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tutti-peers-'))
  dirs.push(dataDir)
  const bootstrapNode = await node()
  const bootstrapAddrs = bootstrapNode.getMultiaddrs().map(String)
  const friend = await node(bootstrapAddrs)
  const me = await node(bootstrapAddrs)
  const cache = createPeerCache({ dataDir, saveIntervalMs: 60_000 }, { libp2p: me, clock: monotonicClock })
  await cache.start()
  await waitFor(() => me.getConnections(bootstrapNode.peerId).length > 0, 'me to reach the bootstrap node')
  await me.dial(friend.getMultiaddrs()[0])
  await cache.stop() // saves
  await me.stop()

  const saved = JSON.parse(await readFile(join(dataDir, 'peers.json'), 'utf8')) as {
    peers: Array<{ peerId: string; addrs: string[] }>
  }
  const savedIds = saved.peers.map((p) => p.peerId)
  assert.ok(savedIds.includes(friend.peerId.toString()), 'the friend is in peers.json')
  assert.ok(savedIds.includes(bootstrapNode.peerId.toString()), 'so is the bootstrap node')
  assert.ok(
    saved.peers.every((p) => p.addrs.length > 0),
    'with addresses',
  )

  await bootstrapNode.stop() // every bootstrap node is gone
  const restarted = await node(bootstrapAddrs)
  const cacheAgain = createPeerCache({ dataDir }, { libp2p: restarted, clock: monotonicClock })
  await cacheAgain.start()
  assert.equal(await cacheAgain.rejoined, 1, 'one cached peer (the friend) answered')
  assert.ok(restarted.getConnections(friend.peerId).length > 0, 'connected to the friend again')
  await cacheAgain.stop()
})

test('a missing or corrupt peers.json is an empty cache, not a crash', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tutti-peers-'))
  dirs.push(dataDir)
  const me = await node()
  const cache = createPeerCache({ dataDir }, { libp2p: me, clock: monotonicClock })
  assert.deepEqual(await cache.load(), [])
  await writeFile(join(dataDir, 'peers.json'), '{"version":1,"peers":[{"peerId":')
  assert.deepEqual(await cache.load(), [])
  await cache.start()
  assert.equal(await cache.rejoined, 0)
  await cache.stop()
})
