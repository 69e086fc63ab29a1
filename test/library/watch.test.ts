// The folder watcher: a song copied into the library (also into a new sub-folder) appears, a deleted one disappears.
import assert from 'node:assert/strict'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { createLibrary } from '../../src/library/index.ts'
import { waitFor } from '../helpers/wait.ts'
import { mp3Bytes, tempDir, wavBytes } from './fixtures.ts'

test('the watcher indexes added files and drops removed ones without a rescan', async (t) => {
  const music = await tempDir('watch')
  const data = await tempDir('watch-data')
  t.after(() => Promise.all([rm(music, { recursive: true }), rm(data, { recursive: true })]))
  await writeFile(join(music, 'first.wav'), wavBytes({ title: 'First', artist: 'W', album: 'W' }, 51))

  const library = createLibrary({ folders: [music], dataDir: data, watch: true, watchDebounceMs: 100 })
  t.after(() => library.stop())
  const added: string[] = []
  const removed: string[] = []
  library.on('song:added', (s) => added.push(s.title))
  library.on('song:removed', (s) => removed.push(s.path))
  await library.start()
  assert.deepEqual(added, ['First'])

  // Copied in the usual way: written under a temporary name, then renamed.
  await writeFile(join(music, 'second.mp3.part'), mp3Bytes({ title: 'Second', artist: 'W', album: 'W' }, 52))
  await rename(join(music, 'second.mp3.part'), join(music, 'second.mp3'))
  await waitFor(() => library.list().some((s) => s.title === 'Second'), 'the added song to be indexed')

  await mkdir(join(music, 'New Album'))
  await writeFile(
    join(music, 'New Album', 'third.wav'),
    wavBytes({ title: 'Third', artist: 'W', album: 'New' }, 53),
  )
  await waitFor(
    () => library.list().some((s) => s.title === 'Third'),
    'a song in a new sub-folder to be indexed',
  )

  await rm(join(music, 'first.wav'))
  await waitFor(() => !library.list().some((s) => s.title === 'First'), 'the removed song to disappear')
  assert.deepEqual(removed, [join(music, 'first.wav')])

  await rm(join(music, 'New Album'), { recursive: true })
  await waitFor(
    () => !library.list().some((s) => s.title === 'Third'),
    'songs of a removed folder to disappear',
  )
  assert.deepEqual(
    library.list().map((s) => s.title),
    ['Second'],
  )
  assert.deepEqual(added.sort(), ['First', 'Second', 'Third'])
})
