// The library's index on a full disk: the scan still finds every song (served from memory this run, with its
// manifest), the log says so once, and the next start with room indexes them for good. The data directory is a
// small tmpfs (root + mount, else skipped).
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { createLibrary } from '../../src/library/index.ts'
import { fillDisk, mountTinyDisk, tmpfsUnavailableReason } from '../helpers/tmpfs.ts'
import { tempDir, wavBytes, writeFiles } from './fixtures.ts'

const mounts: Array<{ unmount(): void }> = []
const dirs: string[] = []
after(async () => {
  for (const m of mounts) m.unmount()
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

/** A folder of six WAV songs and a data directory on a 256 KiB tmpfs. */
async function sixSongsOverATinyDisk(label: string): Promise<{ music: string; data: string }> {
  const music = await tempDir(`${label}-music`)
  const files: Record<string, Uint8Array> = {}
  for (let i = 1; i <= 6; i++)
    files[`song-${i}.wav`] = wavBytes({ title: `Song ${i}`, artist: 'Band', album: label }, i)
  await writeFiles(music, files)
  const data = mkdtempSync(join(tmpdir(), `tutti-${label}-index-`))
  dirs.push(music, data)
  mounts.push(mountTinyDisk(data, '256k'))
  return { music, data }
}

test('a full disk under the index: every song is still found and served, and indexed at the next start', {
  skip: tmpfsUnavailableReason(),
}, async () => {
  const { music, data } = await sixSongsOverATinyDisk('full')
  // An existing install: the index was created while there was room (on an empty folder).
  const empty = await tempDir('full-empty')
  dirs.push(empty)
  const setup = createLibrary({ folders: [empty], dataDir: data })
  await setup.start()
  await setup.stop()
  // Then the disk fills, and the scan finds six new songs.
  const filler = fillDisk(data)
  const first = createLibrary({ folders: [music], dataDir: data })
  await first.start()
  const songs = first.list()
  assert.equal(songs.length, 6, 'every song found')
  for (const s of songs) assert.ok(first.manifest(s.cid), `${s.title} can be served (its manifest is known)`)
  await first.stop()

  await rm(filler)
  const second = createLibrary({ folders: [music], dataDir: data })
  await second.start()
  assert.equal(second.list().length, 6, 'indexed with room again')
  await second.stop()
  const third = createLibrary({ folders: [music], dataDir: data })
  let hashed = -1
  third.on('scan:done', (d) => {
    hashed = d.hashedFiles
  })
  await third.start()
  assert.equal(third.list().length, 6)
  assert.equal(hashed, 0, 'now in the index: nothing hashed again')
  await third.stop()
})

test('a disk that fills during a scan: the songs not saved are still found and served this run', {
  skip: tmpfsUnavailableReason(),
}, async () => {
  const { music, data } = await sixSongsOverATinyDisk('filling')
  const library = createLibrary({ folders: [music], dataDir: data })
  // Open with room; full from the first progress report on (before any song's row is written).
  let filled = false
  library.on('scan:progress', () => {
    if (!filled) fillDisk(data)
    filled = true
  })
  await library.start()
  assert.ok(filled, 'the disk filled during the scan')
  assert.equal(library.list().length, 6, 'every song found')
  for (const s of library.list()) assert.ok(library.manifest(s.cid), `${s.title} can be served`)
  await library.stop()
})
