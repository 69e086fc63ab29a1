// Downloads survive failures: a seeder dying mid-download, and a leecher killed (SIGKILL) and restarted, which resumes from its verified pieces without fetching them again.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, test } from 'node:test'
import { pieceCount } from '../../src/library/content-id.ts'
import { createTuttiLibp2p } from '../../src/net/libp2p.ts'
import { hasPiece } from '../../src/swarm/bitfield.ts'
import { cleanup, makeSong, startNode, type TestNode, tempDir } from './helpers.ts'

const nodes: TestNode[] = []
const dirs: string[] = []
after(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})))
  await cleanup(...dirs, ...nodes.map((n) => n.dataDir))
})

test('the seeder killed mid-download: the other provider finishes the song', async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 2 * 1024 * 1024)
  const a = await startNode({ songs: [song], swarm: { uploadRateBytes: 256 * 1024 } })
  const b = await startNode({ songs: [song], swarm: { uploadRateBytes: 256 * 1024 } })
  const leecher = await startNode()
  nodes.push(a, b, leecher)
  const fromA = new Set<number>()
  let killed = false
  let afterKill = 0
  leecher.swarm.on('piece:verified', (e) => {
    if (e.peerId === a.libp2p.peerId.toString()) fromA.add(e.piece)
    if (killed) afterKill++
    if (!killed && fromA.size >= 3) {
      killed = true
      void a.libp2p.stop()
    }
  })
  const info = await leecher.swarm.download(song.cid, {
    providers: [a.addr, b.addr],
    signal: AbortSignal.timeout(90_000),
  })
  assert.ok(killed, 'seeder A served pieces and was then killed')
  assert.ok(afterKill > 0, 'pieces still arrived after the kill')
  assert.ok((await readFile(info.path!)).equals(song.bytes))
})

test('a named provider that does not speak the swarm protocol is passed over: the song comes from one that does', async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 256 * 1024)
  // A libp2p node without the swarm: the stream opens lazily (the protocol is proposed with the
  // hello), so it fails on the first read rather than at the open, and must be handled as well.
  const stranger = await createTuttiLibp2p({
    mdns: false,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    autoDialBelow: 0,
  })
  const seeder = await startNode({ songs: [song] })
  const leecher = await startNode()
  nodes.push(seeder, leecher)
  try {
    const info = await leecher.swarm.download(song.cid, {
      providers: [stranger.getMultiaddrs()[0]!.toString(), seeder.addr],
      signal: AbortSignal.timeout(60_000),
    })
    assert.ok((await readFile(info.path!)).equals(song.bytes))
  } finally {
    await stranger.stop()
  }
})

test('a leecher killed with SIGKILL resumes from its verified pieces after a restart', async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 2 * 1024 * 1024)
  const pieces = pieceCount(song.manifest.size, song.manifest.pieceSize)
  const seeder = await startNode({ songs: [song] })
  nodes.push(seeder)
  const dataDir = await tempDir('leecher')
  dirs.push(dataDir)
  const child = spawn(
    process.execPath,
    [
      join(import.meta.dirname, 'fixtures/leecher.ts'),
      JSON.stringify({ dataDir, cid: song.cid, providers: [seeder.addr], downloadRateBytes: 512 * 1024 }),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let seen = 0
  for await (const line of createInterface({ input: child.stdout })) {
    if (JSON.parse(line).piece !== undefined) seen++
    // Past the first bitfield flush (it is written at most 500 ms after a piece), kill it hard.
    if (seen >= pieces / 2) break
  }
  child.kill('SIGKILL')
  await new Promise((resolve) => child.once('exit', resolve))
  const persisted = new Uint8Array(await readFile(join(dataDir, 'downloads', song.cid, 'have')))
  const persistedPieces = [...Array(pieces).keys()].filter((i) => hasPiece(persisted, i))
  assert.ok(persistedPieces.length > 0, 'some verified pieces were on disk when the leecher died')

  const restarted = await startNode({ dataDir })
  nodes.push(restarted)
  const refetched: number[] = []
  restarted.swarm.on('piece:verified', (e) => refetched.push(e.piece))
  // The restarted node resumes on its own; naming the seeder just tells it where to look.
  const info = await restarted.swarm.download(song.cid, {
    providers: [seeder.addr],
    signal: AbortSignal.timeout(60_000),
  })
  assert.ok((await readFile(info.path!)).equals(song.bytes))
  const again = refetched.filter((p) => persistedPieces.includes(p))
  assert.deepEqual(again, [], 'no piece verified before the kill was fetched again')
  assert.ok(refetched.length <= pieces - persistedPieces.length, 'only the missing pieces were fetched')
})
