// A full disk: the download stops with a clear error, the node keeps running, the pieces it stored stay, and once
// there is room again, asking again resumes from them. The data directory is a 1 MiB tmpfs (needs root and mount).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { TuttiError } from '../../src/shared/errors.ts'
import { cleanup, makeSong, startNode, type TestNode, tempDir } from './helpers.ts'

/** Why a small tmpfs cannot be mounted here (not root, no mount, a container without the capability), if so. */
function tmpfsUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs as a full disk'
  const probe = mkdtempSync(join(tmpdir(), 'tutti-mount-probe-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' })
    execFileSync('umount', [probe], { stdio: 'ignore' })
    return undefined
  } catch (err) {
    return `cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]})`
  } finally {
    rmSync(probe, { recursive: true, force: true })
  }
}

const nodes: TestNode[] = []
const dirs: string[] = []
const mounts: string[] = []
after(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})))
  for (const m of mounts) execFileSync('umount', ['-l', m])
  await cleanup(...dirs)
})

test('a full disk stops the download with a clear error; with room again it resumes from the stored pieces', {
  skip: tmpfsUnavailableReason(),
}, async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 3 * 1024 * 1024)
  const pieces = song.manifest.pieceHashes.byteLength / 32
  const seeder = await startNode({ songs: [song] })
  nodes.push(seeder)
  const disk = await mkdtemp(join(tmpdir(), 'tutti-full-'))
  dirs.push(disk)
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk])
  mounts.push(disk)
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

  execFileSync('mount', ['-o', 'remount,size=16m', disk])
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
