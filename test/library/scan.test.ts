// Library scan: hostile and broken files never stop a scan; the sqlite index survives restarts;
// unchanged files are not hashed again; changed files are re-hashed; removed files disappear.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { appendFile, mkdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { decodeManifest, encodeManifest, hashFile } from '../../src/library/content-id.ts'
import { createLibrary, openSongRange } from '../../src/library/index.ts'
import type { Library, LibraryEvents } from '../../src/library/types.ts'
import { ManualClock } from '../../src/shared/clock.ts'
import {
  brokenId3Mp3,
  id3WithPicture,
  mp3Bytes,
  mp3Frames,
  tempDir,
  wavBytes,
  writeFiles,
} from './fixtures.ts'

function collect<K extends keyof LibraryEvents>(library: Library, type: K): LibraryEvents[K][] {
  const seen: LibraryEvents[K][] = []
  library.on(type, (payload) => seen.push(payload))
  return seen
}

async function startedLibrary(folder: string, dataDir: string) {
  const library = createLibrary({ folders: [folder], dataDir })
  const done = collect(library, 'scan:done')
  await library.start()
  return { library, done }
}

test('a folder of broken and hostile files is scanned to the end; good songs are indexed, bad ones say why', async (t) => {
  const music = await tempDir('hostile')
  const data = await tempDir('hostile-data')
  t.after(() => Promise.all([rm(music, { recursive: true }), rm(data, { recursive: true })]))

  const good = mp3Bytes({ title: 'Good Song', artist: 'Good Band', album: 'Good Album' }, 1)
  await mkdir(join(music, 'Nested', 'Deeper'), { recursive: true })
  await mkdir(join(music, 'folder.mp3'))
  await writeFiles(music, {
    'good.mp3': good,
    'Nested/Deeper/good.wav': wavBytes({ title: 'Deep Wav', artist: 'Wave Band', album: 'Deep' }, 2),
    'folder.mp3/inside.wav': wavBytes({ title: 'Inside a Folder Named mp3', artist: 'X', album: 'Y' }, 3),
    'truncated.mp3': good.subarray(0, 200),
    'truncated.wav': wavBytes({ title: 'Cut', artist: 'Cut', album: 'Cut' }, 4).subarray(0, 3000),
    'text.flac': 'this is a shopping list, not a FLAC file\n'.repeat(50),
    'text.mp3': 'eggs, milk, bread\n'.repeat(500),
    'empty.ogg': '',
    'hostile-title.mp3': Buffer.concat([
      mp3Bytes(
        { title: `Evil\x07\x1b[2J\u202E${'A'.repeat(100_000)}`, artist: 'Bad\x1bArtist\r\n', album: '' },
        5,
      ),
    ]),
    'huge-picture.mp3': Buffer.concat([id3WithPicture('Big Cover', 8 * 1024 * 1024), mp3Frames(6)]),
    'broken-frames.mp3': brokenId3Mp3(),
    'no-tags.mp3': mp3Frames(8),
    'notes.txt': 'not audio, ignored',
  })
  await symlink(join(music, 'does-not-exist.mp3'), join(music, 'dangling.mp3'))
  await symlink(music, join(music, 'Nested', 'loop')) // a symlink loop back to the root
  execFileSync('mkfifo', [join(music, 'pipe.mp3')]) // opening a FIFO would block a naive scanner forever

  const { library, done } = await startedLibrary(music, data)
  t.after(() => library.stop())

  const byTitle = new Map(library.list().map((s) => [s.title, s]))
  assert.ok(byTitle.has('Good Song'), 'a valid MP3 is indexed')
  assert.equal(byTitle.get('Good Song')?.artist, 'Good Band')
  assert.equal(byTitle.get('Good Song')?.mime, 'audio/mpeg')
  assert.ok(byTitle.has('Deep Wav'), 'nested folders are scanned')
  assert.ok(byTitle.has('Inside a Folder Named mp3'), 'a folder named x.mp3 is walked as a folder')
  assert.equal(byTitle.get('no-tags')?.artist, 'Unknown Artist', 'missing tags fall back to the file name')

  const hostile = library.list().find((s) => s.path.endsWith('hostile-title.mp3'))
  assert.ok(hostile !== undefined, 'a song with a 100 kB title is still indexed')
  assert.ok(hostile.title.length <= 256, `title capped, got ${hostile.title.length} chars`)
  assert.doesNotMatch(hostile.title + hostile.artist, /[\p{Cc}\u202e]/u, 'control characters stripped')
  assert.equal(hostile.artist, 'Bad Artist')

  const rejected = new Map(library.rejected().map((r) => [r.path.slice(music.length + 1), r.reason]))
  for (const name of [
    'truncated.mp3',
    'truncated.wav',
    'text.flac',
    'text.mp3',
    'empty.ogg',
    'dangling.mp3',
    'pipe.mp3',
  ]) {
    assert.ok(rejected.has(name), `${name} is rejected (rejected: ${JSON.stringify([...rejected])})`)
    assert.ok((rejected.get(name) ?? '').length > 5, `${name} has a human reason`)
  }
  assert.match(rejected.get('dangling.mp3') ?? '', /no such file/)
  assert.match(rejected.get('truncated.wav') ?? '', /truncated/)

  // Every hostile file ends up somewhere: indexed (with clean tags) or rejected with a reason.
  const indexedNames = new Set(library.list().map((s) => s.path.slice(music.length + 1)))
  for (const name of ['huge-picture.mp3', 'broken-frames.mp3']) {
    assert.ok(indexedNames.has(name) || rejected.has(name), `${name} is either indexed or rejected`)
  }
  // The symlink loop did not make anything appear twice.
  assert.equal(new Set(library.list().map((s) => s.cid)).size, library.list().length)
  assert.ok(!library.list().some((s) => s.path.includes(`${join('Nested', 'loop')}`)))
  assert.equal(done.length, 1)
  assert.equal(done[0].songs, library.list().length)
})

test('restart keeps the index and hashes nothing unchanged; a changed file is re-hashed; a removed one disappears', async (t) => {
  const music = await tempDir('restart')
  const data = await tempDir('restart-data')
  t.after(() => Promise.all([rm(music, { recursive: true }), rm(data, { recursive: true })]))
  await writeFiles(music, {
    'a.wav': wavBytes({ title: 'Song A', artist: 'A', album: 'Album' }, 11),
    'b.wav': wavBytes({ title: 'Song B', artist: 'B', album: 'Album' }, 12),
    'c.mp3': mp3Bytes({ title: 'Song C', artist: 'C', album: 'Album' }, 13),
    'junk.mp3': 'not audio',
  })

  const first = await startedLibrary(music, data)
  assert.equal(first.done[0].hashedFiles, 3)
  const before = first.library.list()
  assert.equal(before.length, 3)
  const manifestBefore = first.library.manifest(before[0].cid)
  await first.library.stop()

  const second = await startedLibrary(music, data)
  t.after(() => second.library.stop())
  assert.equal(second.done[0].hashedFiles, 0, 'an unchanged library is not hashed again after a restart')
  assert.deepEqual(second.library.list(), before)
  assert.deepEqual(
    second.library.rejected().map((r) => r.path),
    [join(music, 'junk.mp3')],
  )
  const manifestAfter = second.library.manifest(before[0].cid)
  assert.ok(manifestBefore !== undefined && manifestAfter !== undefined)
  assert.deepEqual(encodeManifest(manifestAfter), encodeManifest(manifestBefore))
  assert.deepEqual(decodeManifest(encodeManifest(manifestAfter)).size, before[0].size)

  const added = collect(second.library, 'song:added')
  const removed = collect(second.library, 'song:removed')
  const songA = before.find((s) => s.title === 'Song A')
  const songB = before.find((s) => s.title === 'Song B')
  assert.ok(songA !== undefined && songB !== undefined)

  // New content in a.wav: new content id; only a.wav is re-hashed.
  await writeFile(
    join(music, 'a.wav'),
    wavBytes({ title: 'Song A (remaster)', artist: 'A', album: 'Album' }, 21),
  )
  await second.library.rescan()
  assert.equal(second.done.at(-1)?.hashedFiles, 1)
  const remastered = second.library.list().find((s) => s.path === join(music, 'a.wav'))
  assert.equal(remastered?.title, 'Song A (remaster)')
  assert.notEqual(remastered?.cid, songA.cid)
  assert.equal(second.library.get(songA.cid), undefined)
  assert.deepEqual(
    removed.map((r) => r.cid),
    [songA.cid],
  )
  assert.deepEqual(
    added.map((s) => s.title),
    ['Song A (remaster)'],
  )
  assert.equal((await hashFile(join(music, 'a.wav'))).cid, remastered?.cid)

  // Only the mtime changes: the file is re-hashed (we cannot know it is the same) but keeps its id.
  await utimes(join(music, 'b.wav'), new Date(), new Date(Date.now() + 5000))
  await second.library.rescan()
  assert.equal(second.done.at(-1)?.hashedFiles, 1)
  assert.equal(second.library.get(songB.cid)?.title, 'Song B')

  // A removed file disappears, and stays gone after a restart.
  await rm(join(music, 'c.mp3'))
  await second.library.rescan()
  assert.equal(second.done.at(-1)?.hashedFiles, 0)
  assert.ok(!second.library.list().some((s) => s.title === 'Song C'))
  assert.ok(removed.some((r) => r.path === join(music, 'c.mp3')))
  await second.library.stop()

  const third = await startedLibrary(music, data)
  t.after(() => third.library.stop())
  assert.equal(third.done[0].hashedFiles, 0)
  assert.deepEqual(
    third.library
      .list()
      .map((s) => s.title)
      .sort(),
    ['Song A (remaster)', 'Song B'],
  )
})

test('a song is read back byte-exact by range, and ranges outside it are refused', async (t) => {
  const music = await tempDir('range')
  const data = await tempDir('range-data')
  t.after(() => Promise.all([rm(music, { recursive: true }), rm(data, { recursive: true })]))
  const bytes = wavBytes({ title: 'Ranged', artist: 'R', album: 'R' }, 31)
  await writeFiles(music, { 'r.wav': bytes })
  const { library } = await startedLibrary(music, data)
  t.after(() => library.stop())
  const [song] = library.list()

  const read = async (start: number, end: number) => {
    const parts: Uint8Array[] = []
    for await (const chunk of openSongRange(song, start, end)) parts.push(chunk)
    return Buffer.concat(parts)
  }
  assert.deepEqual(await read(0, song.size - 1), bytes)
  assert.deepEqual(await read(1000, 50_000), bytes.subarray(1000, 50_001))
  assert.deepEqual(await read(song.size - 1, song.size - 1), bytes.subarray(song.size - 1))
  await assert.rejects(read(0, song.size), { code: 'RANGE_NOT_SATISFIABLE' })
  await assert.rejects(read(10, 5), { code: 'RANGE_NOT_SATISFIABLE' })

  const controller = new AbortController()
  const iterator = openSongRange(song, 0, song.size - 1, controller.signal)
  await iterator.next()
  controller.abort()
  await assert.rejects(async () => {
    for await (const _ of iterator);
  })
})

test('a verified file from the swarm is added with its tags and survives a rescan and restart', async (t) => {
  const music = await tempDir('swarm')
  const downloads = await tempDir('swarm-downloads')
  const data = await tempDir('swarm-data')
  t.after(() => Promise.all([music, downloads, data].map((d) => rm(d, { recursive: true }))))
  const path = join(downloads, 'fetched.mp3')
  await writeFile(path, mp3Bytes({ title: 'From a Peer', artist: 'Remote', album: 'Elsewhere' }, 41))
  const { cid, manifest } = await hashFile(path)

  const { library } = await startedLibrary(music, data)
  const added = collect(library, 'song:added')
  const song = await library.addVerifiedFile(path, cid, manifest)
  assert.equal(song.title, 'From a Peer')
  assert.equal(song.cid, cid)
  assert.deepEqual(
    added.map((s) => s.cid),
    [cid],
  )
  assert.deepEqual(library.manifest(cid)?.pieceHashes, manifest.pieceHashes)
  await library.rescan()
  assert.equal(
    library.get(cid)?.path,
    path,
    'a downloaded song outside the library folders survives a rescan',
  )

  // A manifest that does not belong to the cid, or a file of the wrong size, is refused.
  const other = await hashFile(join(import.meta.dirname, 'fixtures.ts'))
  await assert.rejects(library.addVerifiedFile(path, cid, other.manifest), { code: 'SONG_FILE_MISMATCH' })
  await assert.rejects(library.addVerifiedFile(path, other.cid, other.manifest), {
    code: 'SONG_FILE_MISMATCH',
  })
  await library.stop()

  const again = await startedLibrary(music, data)
  t.after(() => again.library.stop())
  assert.equal(again.library.get(cid)?.title, 'From a Peer')
  await appendFile(path, 'tampered')
  await again.library.rescan()
  assert.equal(again.library.get(cid), undefined, 'a downloaded file that changed on disk is dropped')
  assert.ok((await readFile(path)).length > 0)
})

test('two copies of the same song are one library entry until the last copy is gone', async (t) => {
  const music = await tempDir('dupes')
  const data = await tempDir('dupes-data')
  t.after(() => Promise.all([rm(music, { recursive: true }), rm(data, { recursive: true })]))
  const bytes = wavBytes({ title: 'Twice', artist: 'D', album: 'D' }, 61)
  await mkdir(join(music, 'copy'))
  await writeFiles(music, { 'a.wav': bytes, 'copy/a.wav': bytes })
  const { library } = await startedLibrary(music, data)
  t.after(() => library.stop())
  const removed = collect(library, 'song:removed')
  assert.equal(library.list().length, 1)
  const [song] = library.list()

  await rm(join(music, song.path === join(music, 'a.wav') ? 'a.wav' : 'copy/a.wav'))
  await library.rescan()
  assert.equal(library.get(song.cid)?.title, 'Twice', 'the other copy keeps the song available')
  assert.deepEqual(removed, [])
  await rm(join(music, 'copy'), { recursive: true, force: true })
  await rm(join(music, 'a.wav'), { force: true })
  await library.rescan()
  assert.equal(library.get(song.cid), undefined)
  assert.equal(removed.length, 1)
})

test('stopping in the middle of a scan is clean, and the next start finishes the job', async (t) => {
  const music = await tempDir('interrupt')
  const data = await tempDir('interrupt-data')
  t.after(() => Promise.all([rm(music, { recursive: true }), rm(data, { recursive: true })]))
  const files: Record<string, Buffer> = {}
  for (let i = 0; i < 8; i++)
    files[`song-${i}.wav`] = wavBytes({ title: `Song ${i}`, artist: 'I', album: 'I' }, 70 + i)
  await writeFiles(music, files)

  const first = createLibrary({ folders: [music], dataDir: data, concurrency: 1 })
  const progress = collect(first, 'scan:progress')
  const starting = first.start()
  await new Promise<void>((resolve) => first.on('song:added', () => resolve()))
  await first.stop()
  await starting
  const indexedBefore = first.list().length
  assert.ok(indexedBefore >= 1 && indexedBefore < 8, `stopped part-way (${indexedBefore} of 8 indexed)`)
  assert.ok(progress.length >= 1)

  const second = await startedLibrary(music, data)
  t.after(() => second.library.stop())
  assert.equal(second.library.list().length, 8)
  assert.ok(
    second.done[0].hashedFiles <= 8 - indexedBefore,
    'songs indexed before the stop are not hashed again',
  )
})

test('scan progress is throttled by the injected clock and always ends at 100 %', async (t) => {
  const music = await tempDir('progress')
  const data = await tempDir('progress-data')
  t.after(() => Promise.all([rm(music, { recursive: true }), rm(data, { recursive: true })]))
  const files: Record<string, Buffer> = {}
  for (let i = 0; i < 6; i++)
    files[`p-${i}.wav`] = wavBytes({ title: `P ${i}`, artist: 'P', album: 'P' }, 90 + i)
  await writeFiles(music, files)

  const clock = new ManualClock(1_000)
  const library = createLibrary({ folders: [music], dataDir: data, clock, concurrency: 1 })
  t.after(() => library.stop())
  const progress = collect(library, 'scan:progress')
  // Time moves 60 ms per indexed song: with a 100 ms interval about every other song is reported.
  library.on('song:added', () => clock.advance(60))
  await library.start()
  assert.deepEqual(progress.at(-1), {
    filesDone: 6,
    filesTotal: 6,
    bytesHashed: progress.at(-1)?.bytesHashed,
  })
  assert.ok((progress.at(-1)?.bytesHashed ?? 0) >= Object.values(files).reduce((n, b) => n + b.length, 0))
  assert.ok(progress.length >= 3 && progress.length < 7, `throttled: ${progress.length} events for 6 files`)
  const done = progress.map((p) => p.filesDone)
  assert.deepEqual(
    done,
    [...done].sort((a, b) => a - b),
    'progress never goes backwards',
  )
})
