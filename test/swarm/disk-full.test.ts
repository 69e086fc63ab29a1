// A full disk: the download stops with a clear error, the node keeps running, the pieces it stored stay, and once
// there is room again, asking again resumes from them. The data directory is a 1 MiB tmpfs (needs root and mount).
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { pieceCount } from '../../src/library/content-id.ts'
import { TuttiError } from '../../src/shared/errors.ts'
import { mountTinyDisk, tmpfsUnavailableReason } from '../helpers/tmpfs.ts'
import { cleanup, makeSong, startNode, type TestNode, tempDir } from './helpers.ts'

const nodes: TestNode[] = []
const dirs: string[] = []
const mounts: Array<{ unmount(): void }> = []
after(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})))
  for (const m of mounts) m.unmount()
  await cleanup(...dirs)
})

test('a full disk stops the download with a clear error; with room again it resumes from the stored pieces', {
  skip: tmpfsUnavailableReason(),
}, async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 3 * 1024 * 1024)
  const pieces = pieceCount(song.manifest.size, song.manifest.pieceSize)
  const seeder = await startNode({ songs: [song] })
  nodes.push(seeder)
  const disk = await mkdtemp(join(tmpdir(), 'tutti-full-'))
  dirs.push(disk)
  const mount = mountTinyDisk(disk, '1m')
  mounts.push(mount)
  const leecher = await startNode({ dataDir: disk })
  nodes.push(leecher)
  let first = 0
  const off = leecher.swarm.on('piece:verified', () => first++)
  await assert.rejects(
    leecher.swarm.download(song.cid, { providers: [seeder.addr], signal: AbortSignal.timeout(60_000) }),
    (err: unknown) =>
      err instanceof TuttiError &&
      err.code === 'DISK_FULL' &&
      err.status === 507 &&
      /no space left/.test(err.message),
  )
  off()
  assert.ok(
    first > 0 && first < pieces,
    `some pieces were stored before the disk filled (${first} of ${pieces})`,
  )
  assert.equal(leecher.swarm.get(song.cid)?.state, 'failed')
  assert.match(leecher.swarm.get(song.cid)?.error ?? '', /free some space and ask again/)
  assert.equal(leecher.library.get(song.cid), undefined, 'nothing joined the library')
  const music = await readdir(join(disk, 'music')).catch(() => [])
  assert.deepEqual(music, [], 'no partial song in the music folder')
  // The node still works: it answers its peers.
  await leecher.libp2p.services.ping.ping(seeder.libp2p.peerId, { signal: AbortSignal.timeout(5_000) })

  mount.resize('16m')
  let second = 0
  leecher.swarm.on('piece:verified', () => second++)
  const info = await leecher.swarm.download(song.cid, {
    providers: [seeder.addr],
    signal: AbortSignal.timeout(60_000),
  })
  console.log(`stored ${first} of ${pieces} pieces before the disk filled; the resume fetched ${second}`)
  assert.ok((await readFile(info.path!)).equals(song.bytes), 'the exact bytes')
  assert.ok(second < pieces, `the resume fetched ${second} of ${pieces} pieces: the stored ones were kept`)
  assert.ok(second + first >= pieces, 'every piece arrived once across the two attempts')
  await rm(info.path!, { force: true })
})
