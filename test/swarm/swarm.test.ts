// End to end on loopback: several seeders and leechers end with the exact bytes of the song.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, test } from 'node:test'
import { cleanup, makeSong, startNode, type TestNode, tempDir } from './helpers.ts'

const nodes: TestNode[] = []
const dirs: string[] = []
after(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})))
  await cleanup(...dirs, ...nodes.map((n) => n.dataDir))
})

test('three leechers fetch from two seeders and from each other, byte-exact', async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 3 * 1024 * 1024 + 12345)
  // Capped seeders: no single source can deliver the song before the others are connected, so
  // every leecher draws on several peers however busy the machine is.
  const capped = { songs: [song], swarm: { uploadRateBytes: 512 * 1024 } }
  const seeders = [await startNode(capped), await startNode(capped)]
  nodes.push(...seeders)
  const leechers = [await startNode(), await startNode(), await startNode()]
  nodes.push(...leechers)
  const everyone = [...seeders, ...leechers].map((n) => n.addr)
  const served = new Map<string, Set<string>>()
  for (const l of leechers) {
    const set = new Set<string>()
    served.set(l.libp2p.peerId.toString(), set)
    l.swarm.on('piece:verified', (e) => set.add(e.peerId))
  }
  const results = await Promise.all(
    leechers.map((l) =>
      l.swarm.download(song.cid, { providers: everyone, signal: AbortSignal.timeout(60_000) }),
    ),
  )
  for (const [i, info] of results.entries()) {
    assert.equal(info.state, 'done')
    const bytes = await readFile(info.path!)
    assert.ok(bytes.equals(song.bytes), `leecher ${i} has the exact bytes`)
    assert.ok(leechers[i]!.library.get(song.cid), 'the song joined the library')
  }
  const sources = [...served.values()].reduce((n, s) => n + s.size, 0)
  assert.ok(sources > leechers.length, `pieces came from more than one peer per leecher (${sources})`)
})

test('a hello that comes before our manifest waits for it: leechers starting together trade at once', async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 512 * 1024)
  const seeder = await startNode({ songs: [song], swarm: { uploadRateBytes: 256 * 1024 } })
  const [early, late] = [await startNode(), await startNode()]
  nodes.push(seeder, early, late)
  // `early` is still finding the song (nobody named yet) when `late` says hello to it.
  early.swarm.startDownload(song.cid, { providers: [] })
  const fromEarly = new Promise<number>((resolve) => {
    const t0 = performance.now()
    late.swarm.on('piece:verified', (e) => {
      if (e.peerId === early.libp2p.peerId.toString()) resolve(performance.now() - t0)
    })
  })
  const lateDone = late.swarm.download(song.cid, {
    providers: [early.addr],
    signal: AbortSignal.timeout(60_000),
  })
  await new Promise((resolve) => setTimeout(resolve, 300))
  early.swarm.startDownload(song.cid, { providers: [seeder.addr] })
  // Answered `unknown`, `late` would not ask `early` again for 5 s, and until then would have no source at all.
  const ms = await fromEarly
  console.log(`the early leecher relayed its first piece after ${ms.toFixed(0)} ms`)
  assert.ok(ms < 4_000, `the first piece relayed by the early leecher came after ${ms.toFixed(0)} ms`)
  const info = await lateDone
  assert.ok((await readFile(info.path!)).equals(song.bytes), 'the late leecher has the exact bytes')
})

test('a first named provider without the song does not hold up the others', async () => {
  // Links to later providers wait for the first one's handshake while the manifest is missing;
  // an "unknown" answer must release them at once, not after the 10 s dial timeout.
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 256 * 1024)
  const stranger = await startNode()
  const seeder = await startNode({ songs: [song] })
  const leecher = await startNode()
  nodes.push(stranger, seeder, leecher)
  const t0 = performance.now()
  const info = await leecher.swarm.download(song.cid, {
    providers: [stranger.addr, seeder.addr],
    signal: AbortSignal.timeout(60_000),
  })
  const ms = performance.now() - t0
  assert.equal(info.state, 'done')
  assert.ok((await readFile(info.path!)).equals(song.bytes))
  assert.ok(ms < 8_000, `done in ${ms.toFixed(0)} ms, not after the first provider's dial timeout`)
})
