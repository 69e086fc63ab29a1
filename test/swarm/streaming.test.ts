// Streaming reads: the pieces a reader waits for jump the queue, so the last minute of a song plays before the first minute has arrived; partial songs are served onward while they download.
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

/** A 32-piece song on a seeder whose upload is capped at `uploadRateBytes`, a leecher, and the pieces in the order they reach it. */
async function cappedSeederAndLeecher(uploadRateBytes: number) {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 32 * 64 * 1024)
  const seeder = await startNode({ songs: [song], swarm: { uploadRateBytes } })
  const leecher = await startNode()
  nodes.push(seeder, leecher)
  const arrivals: number[] = []
  leecher.swarm.on('piece:verified', (e) => arrivals.push(e.piece))
  return { song, seeder, leecher, arrivals }
}

test('reading the last minute returns before the first minute has arrived', async () => {
  // The seeder's upload cap makes the whole song take ~8 s, so the order of arrival shows.
  const { song, seeder, leecher, arrivals } = await cappedSeederAndLeecher(256 * 1024)
  // 32 pieces; call 4 pieces (256 KiB, about a minute of 32 kbit/s audio) a "minute".
  const minute = 4 * 64 * 1024
  const chunks: Uint8Array[] = []
  for await (const chunk of leecher.swarm.read(song.cid, song.bytes.length - minute, song.bytes.length - 1, {
    providers: [seeder.addr],
    signal: AbortSignal.timeout(60_000),
  })) {
    chunks.push(chunk)
  }
  const firstMinuteDone = [0, 1, 2, 3].every((p) => arrivals.includes(p))
  assert.ok(Buffer.concat(chunks).equals(song.bytes.subarray(song.bytes.length - minute)), 'exact bytes')
  assert.equal(
    firstMinuteDone,
    false,
    `first minute incomplete when the last minute was read (order ${arrivals})`,
  )
  for (const p of [28, 29, 30, 31]) {
    assert.ok(arrivals.indexOf(p) < 8, `tail piece ${p} among the first arrivals (order ${arrivals})`)
  }
  // The rest still completes; a second read is served from the library.
  const info = await leecher.swarm.download(song.cid, { signal: AbortSignal.timeout(60_000) })
  assert.ok((await readFile(info.path!)).equals(song.bytes))
  const whole: Uint8Array[] = []
  for await (const c of leecher.swarm.read(song.cid, 10, 70_000)) whole.push(c)
  assert.ok(Buffer.concat(whole).equals(song.bytes.subarray(10, 70_001)))
})

test('leechers trade the pieces they have while downloading', async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 2 * 1024 * 1024)
  const seeder = await startNode({ songs: [song], swarm: { uploadRateBytes: 512 * 1024 } })
  const a = await startNode()
  const b = await startNode()
  nodes.push(seeder, a, b)
  const fromPeer = { a: 0, b: 0 }
  a.swarm.on('piece:verified', (e) => {
    if (e.peerId === b.libp2p.peerId.toString()) fromPeer.a++
  })
  b.swarm.on('piece:verified', (e) => {
    if (e.peerId === a.libp2p.peerId.toString()) fromPeer.b++
  })
  // Each leecher names only the seeder: they find each other through peer exchange.
  const [ia, ib] = await Promise.all([
    a.swarm.download(song.cid, { providers: [seeder.addr], signal: AbortSignal.timeout(60_000) }),
    b.swarm.download(song.cid, { providers: [seeder.addr], signal: AbortSignal.timeout(60_000) }),
  ])
  assert.ok((await readFile(ia.path!)).equals(song.bytes))
  assert.ok((await readFile(ib.path!)).equals(song.bytes))
  assert.ok(
    fromPeer.a > 0 && fromPeer.b > 0,
    `each leecher got pieces from the other (${JSON.stringify(fromPeer)})`,
  )
})

test("a player's reads in steps (head, tail, middle) each get their piece next, not behind unread pieces", async () => {
  // One piece per second: a piece requested between two reads would arrive before the next read's piece.
  const { song, seeder, leecher, arrivals } = await cappedSeederAndLeecher(64 * 1024)
  const piece = 64 * 1024
  const options = { providers: [seeder.addr], signal: AbortSignal.timeout(60_000) }
  const steps: Array<[number, number]> = [
    [0, piece - 1],
    [31 * piece, 32 * piece - 1],
    [16 * piece + 100, 16 * piece + 200],
  ]
  for (const [start, end] of steps) {
    const got: Uint8Array[] = []
    for await (const chunk of leecher.swarm.read(song.cid, start, end, options)) got.push(chunk)
    assert.ok(Buffer.concat(got).equals(song.bytes.subarray(start, end + 1)), `exact bytes ${start}-${end}`)
    // The next step starts after the code between reads has run (a player parses what it read).
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  // Pieces already on the wire when a read began may come first; past those, each read's piece is next.
  const order = arrivals.filter((p) => [0, 31, 16].includes(p))
  assert.deepEqual(order, [0, 31, 16])
  const before16 = arrivals.indexOf(16)
  assert.ok(before16 <= 3, `pieces 0, 31, 16 among the first four arrivals (order ${arrivals})`)
  await leecher.swarm.cancel(song.cid)
})

test('a song being fetched has its size the moment its manifest arrives; a song nobody fetches, or one cancelled first, has none', async () => {
  // 32 pieces at 256 KiB/s: the whole song takes ~8 s, the manifest one exchange.
  const { song, seeder, leecher } = await cappedSeederAndLeecher(256 * 1024)
  assert.equal(await leecher.swarm.waitForStat(song.cid), undefined, 'not being fetched: no size')
  const whole = leecher.swarm.download(song.cid, {
    providers: [seeder.addr],
    signal: AbortSignal.timeout(60_000),
  })
  whole.catch(() => {})
  assert.throws(() => leecher.swarm.stat(song.cid), /manifest/i, 'stat alone: retry later')
  const stat = await leecher.swarm.waitForStat(song.cid, { signal: AbortSignal.timeout(10_000) })
  assert.deepEqual(stat?.size, song.bytes.length)
  assert.equal(leecher.swarm.get(song.cid)?.state, 'downloading', 'known long before the song is')

  // A download that never gets its manifest: no one has the song.
  const dir = await tempDir('songs')
  dirs.push(dir)
  const ghost = await makeSong(dir, 64 * 1024)
  leecher.swarm.download(ghost.cid, { signal: AbortSignal.timeout(60_000) }).catch(() => {})
  await assert.rejects(
    leecher.swarm.waitForStat(ghost.cid, { signal: AbortSignal.timeout(200) }),
    { name: 'TimeoutError' },
    'the caller gives up: the wait rejects',
  )
  const pending = leecher.swarm.waitForStat(ghost.cid)
  await leecher.swarm.cancel(ghost.cid)
  assert.equal(await pending, undefined, 'cancelled before its manifest: no size')
  await leecher.swarm.cancel(song.cid)
})
