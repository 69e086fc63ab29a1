// Finding providers without being told: a leecher finds the seeder of a song through the DHT (provide/findProviders on the Tutti Kademlia).
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, test } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { waitFor } from '../helpers/wait.ts'
import { cleanup, makeSong, startNode, type TestNode, tempDir } from './helpers.ts'

const nodes: TestNode[] = []
const dirs: string[] = []
after(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})))
  await cleanup(...dirs, ...nodes.map((n) => n.dataDir))
})

test('a leecher finds the seeder through the DHT and downloads the song', async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 400 * 1024)
  const seeder = await startNode({ songs: [song], swarm: { dht: true } })
  const middle = await startNode({ swarm: { dht: true } })
  const leecher = await startNode({ swarm: { dht: true } })
  nodes.push(seeder, middle, leecher)
  let provided = false
  seeder.swarm.on('song:provided', (e) => {
    if (e.cid === song.cid) provided = true
  })
  // Everyone knows the middle node (a bootstrap peer); the leecher is never told about the seeder.
  await seeder.libp2p.dial(multiaddr(middle.addr))
  await leecher.libp2p.dial(multiaddr(middle.addr))
  await waitFor(() => provided, 'the seeder to announce the song in the DHT', { timeoutMs: 60_000 })
  const servedBy = new Set<string>()
  leecher.swarm.on('piece:verified', (e) => servedBy.add(e.peerId))
  const info = await leecher.swarm.download(song.cid, { signal: AbortSignal.timeout(60_000) })
  assert.ok((await readFile(info.path!)).equals(song.bytes))
  assert.deepEqual([...servedBy], [seeder.libp2p.peerId.toString()])
})
