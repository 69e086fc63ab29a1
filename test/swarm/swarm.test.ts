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
