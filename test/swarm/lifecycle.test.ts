// Download lifecycle a user notices: a paused download is still paused after a restart, a song nobody has fails with a clear error, the Range route's stat is retryable before the manifest arrives, and a fetched song is named by its tags.
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { test } from 'node:test'
import { hashFile, PIECE_SIZE } from '../../src/library/content-id.ts'
import { encodeWav } from '../../src/library/demo/encode.ts'
import { TuttiError } from '../../src/shared/errors.ts'
import { runGet } from '../../src/swarm/cli-get.ts'
import { waitFor } from '../helpers/wait.ts'
import { cleanup, makeSong, startNode, type TestNode, type TestSong, tempDir } from './helpers.ts'

async function withNodes(run: (track: (n: TestNode) => TestNode, dirs: string[]) => Promise<void>) {
  const nodes: TestNode[] = []
  const dirs: string[] = []
  try {
    await run((n) => {
      nodes.push(n)
      return n
    }, dirs)
  } finally {
    await Promise.all(nodes.map((n) => n.stop().catch(() => {})))
    await cleanup(...dirs, ...nodes.map((n) => n.dataDir))
  }
}

test('a paused download is still paused after a restart, keeps its pieces, and finishes when resumed', async () => {
  await withNodes(async (track, dirs) => {
    const dir = await tempDir('songs')
    dirs.push(dir)
    const song = await makeSong(dir, 24 * PIECE_SIZE + 123)
    // A slow seeder, so the download is still under way when we pause it.
    const seeder = track(await startNode({ songs: [song], swarm: { uploadRateBytes: 256 * 1024 } }))
    const leecher = track(await startNode())
    leecher.swarm.startDownload(song.cid, { providers: [seeder.addr] })
    await waitFor(() => (leecher.swarm.get(song.cid)?.piecesDone ?? 0) >= 2, 'the first pieces', {
      timeoutMs: 30_000,
    })
    assert.equal(leecher.swarm.pause(song.cid).state, 'paused')
    const before = leecher.swarm.get(song.cid)!.piecesDone
    assert.ok(before < 25, 'paused before the end')
    await leecher.stop()

    const again = track(await startNode({ dataDir: leecher.dataDir }))
    await waitFor(
      () => (again.swarm.get(song.cid)?.piecesDone ?? 0) >= before,
      `the ${before} verified pieces reloaded after the restart`,
    )
    assert.equal(again.swarm.get(song.cid)!.state, 'paused', 'still paused after the restart')

    again.swarm.resume(song.cid)
    again.swarm.startDownload(song.cid, { providers: [seeder.addr] })
    const done = await again.swarm.download(song.cid, { signal: AbortSignal.timeout(50_000) })
    assert.ok((await readFile(done.path!)).equals(song.bytes), 'exact bytes after pause, restart, resume')
  })
})

test('a song nobody provides fails after the provider timeout with a clear error; stat before the manifest is retryable', async () => {
  await withNodes(async (track, dirs) => {
    const dir = await tempDir('songs')
    dirs.push(dir)
    // A real song id that no peer has.
    const song = await makeSong(dir, 3 * PIECE_SIZE)
    const leecher = track(await startNode({ swarm: { providerTimeoutMs: 1_500 } }))
    leecher.swarm.startDownload(song.cid)
    assert.throws(
      () => leecher.swarm.stat(song.cid),
      (err: unknown) => err instanceof TuttiError && err.status === 503 && err.code === 'MANIFEST_PENDING',
      'stat of a download waiting for its manifest answers a retryable 503, not "no such song"',
    )
    await assert.rejects(
      leecher.swarm.download(song.cid, { signal: AbortSignal.timeout(30_000) }),
      (err: unknown) =>
        err instanceof TuttiError && err.code === 'NO_PROVIDERS' && /no peer could provide/.test(err.message),
    )
    const info = leecher.swarm.get(song.cid)!
    assert.equal(info.state, 'failed')
    assert.match(info.error ?? '', /none found or reachable/)
    assert.equal(leecher.swarm.stat(song.cid), undefined, 'a failed download is not servable')
  })
})

async function taggedWav(dir: string, tags: { title: string; artist: string }): Promise<TestSong> {
  const frames = 44_100
  const left = new Float32Array(frames)
  for (let i = 0; i < frames; i++) left[i] = Math.sin(i / 20) * 0.2
  const bytes = encodeWav({ sampleRate: 44_100, left, right: left }, { ...tags, album: 'Tests' })
  const path = join(dir, 'source-file.wav')
  await writeFile(path, bytes)
  const { cid, manifest } = await hashFile(path)
  return { cid, manifest, path, bytes }
}

test('a fetched song is named "Artist - Title.ext" from its tags, and by its id when it has none', async () => {
  await withNodes(async (track, dirs) => {
    const dir = await tempDir('songs')
    dirs.push(dir)
    const tagged = await taggedWav(dir, { title: 'Night: Train/2', artist: 'The Testers' })
    const untagged = await makeSong(dir, 2 * PIECE_SIZE + 5)
    const seeder = track(await startNode({ songs: [tagged, untagged] }))
    const leecher = track(await startNode())
    const a = await leecher.swarm.download(tagged.cid, {
      providers: [seeder.addr],
      signal: AbortSignal.timeout(30_000),
    })
    assert.equal(basename(a.path!), 'The Testers - Night Train 2.wav')
    assert.ok((await readFile(a.path!)).equals(tagged.bytes))
    const b = await leecher.swarm.download(untagged.cid, {
      providers: [seeder.addr],
      signal: AbortSignal.timeout(30_000),
    })
    assert.equal(basename(b.path!), `${untagged.cid}.mp3`)
  })
})

test('asking for a song the library already has is done at once (tutti get does not hang)', async () => {
  await withNodes(async (track, dirs) => {
    const dir = await tempDir('songs')
    dirs.push(dir)
    const song = await makeSong(dir, 3 * PIECE_SIZE + 7)
    const node = track(await startNode({ songs: [song] }))
    const started = node.swarm.startDownload(song.cid)
    assert.equal(started.state, 'done')
    assert.equal(started.percent, 100)
    assert.equal(started.pieces, 4)
    assert.equal(node.swarm.get(song.cid)?.state, 'done', 'polling it says done too')
    assert.deepEqual(node.swarm.list(), [], 'no download entry lingers')
    const got = await runGet(node.swarm, song.cid, { stdout: { write: () => true } })
    assert.equal(got.state, 'done')
    assert.equal(got.path, node.swarm.get(song.cid)?.path)
  })
})
