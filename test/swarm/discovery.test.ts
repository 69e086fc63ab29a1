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

test('a leecher announces a song it only partly has, and serves those pieces to a newcomer who found it in the DHT', async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 48 * 64 * 1024)
  // A slow seeder, so the first leecher is still partial when the newcomer arrives.
  const seeder = await startNode({ songs: [song], swarm: { dht: false, uploadRateBytes: 128 * 1024 } })
  const middle = await startNode({ swarm: { dht: true } })
  const partial = await startNode({ swarm: { dht: true } })
  const newcomer = await startNode({ swarm: { dht: true } })
  nodes.push(seeder, middle, partial, newcomer)
  let announced = false
  partial.swarm.on('song:provided', (e) => {
    if (e.cid === song.cid) announced = true
  })
  await partial.libp2p.dial(multiaddr(middle.addr))
  await newcomer.libp2p.dial(multiaddr(middle.addr))
  partial.swarm.startDownload(song.cid, { providers: [seeder.addr] })
  await waitFor(() => announced, 'the partial leecher to announce the song', { timeoutMs: 60_000 })
  const have = partial.swarm.get(song.cid)
  assert.ok(have !== undefined && have.state !== 'done', 'announced while still partial')
  // The newcomer is told about nobody: the DHT names the partial leecher (the seeder does not announce).
  const servedBy = new Set<string>()
  newcomer.swarm.on('piece:verified', (e) => servedBy.add(e.peerId))
  newcomer.swarm.startDownload(song.cid)
  await waitFor(() => servedBy.has(partial.libp2p.peerId.toString()), 'a piece from the partial leecher', {
    timeoutMs: 60_000,
  })
  assert.notEqual(partial.swarm.get(song.cid)?.state, 'done', 'served while still downloading')
})
