// Finding providers without being told: a leecher finds the seeder of a song through the DHT (provide/findProviders on the
// Tutti Kademlia), and the song's peers hear of each other from the peers they share (peer exchange).
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { CODE_P2P, multiaddr } from '@multiformats/multiaddr'
import type { PexPeer } from '../../src/swarm/schema.ts'
import { waitFor } from '../helpers/wait.ts'
import { cleanup, helloByHand, makeSong, startNode, type TestNode, tempDir } from './helpers.ts'

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

test('a seeder tells its leechers of a newcomer at once, and which of them dials', async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 256 * 1024)
  const seeder = await startNode({ songs: [song] })
  const early = await startNode()
  const newcomer = await startNode()
  nodes.push(seeder, early, newcomer)
  // Both leechers speak the protocol by hand, so only the seeder's peer exchange can tell one of the other
  // (a download would also learn of peers from their own sessions and the DHT).
  const first = await helloByHand(early.libp2p, seeder.addr, song.cid)
  const told = nextPeers(first)
  const joined = performance.now()
  const second = await helloByHand(newcomer.libp2p, seeder.addr, song.cid)
  // The exchange's interval is 10 s; the news must come well before it.
  const deadline = new AbortController()
  const peers = await Promise.race([
    told,
    sleep(6_000, undefined, { signal: deadline.signal }).then(
      () => undefined,
      () => undefined,
    ),
  ])
  deadline.abort()
  assert.ok(
    peers !== undefined,
    `no peer exchange ${(performance.now() - joined).toFixed(0)} ms after the newcomer's hello`,
  )
  const entry = peers.find((p) => p.id === newcomer.libp2p.peerId.toString())
  assert.ok(entry !== undefined, 'the exchange names the newcomer')
  const listening = newcomer.libp2p.getMultiaddrs().map((a) => a.decapsulateCode(CODE_P2P).toString())
  assert.ok(
    entry.addrs.some((a) => listening.includes(a)),
    `with an address it listens on (${entry.addrs.join(', ')})`,
  )
  // Who dials whom: the newcomer got the first leecher's address with its handshake, so the first
  // should wait for its dial (knowsYou), and the newcomer should dial at once.
  assert.equal(entry.knowsYou, true, 'the first leecher is told the newcomer knows it')
  const earlier = (await nextPeers(second)).find((p) => p.id === early.libp2p.peerId.toString())
  assert.ok(earlier !== undefined, 'the newcomer is told of the first leecher')
  assert.equal(earlier.knowsYou, false, 'the newcomer is told the first leecher does not know it yet')
  await first.close()
  await second.close()
})

/** The next peer exchange on a hand-spoken client's stream (empty when the stream ends first). */
async function nextPeers(wire: Awaited<ReturnType<typeof helloByHand>>): Promise<PexPeer[]> {
  for (let m = await wire.read(); m !== undefined; m = await wire.read()) {
    if (m.t === 'peers') return m.peers
  }
  return []
}
