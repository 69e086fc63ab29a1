// The piece store's finish: the whole song is checked against its content id before it moves.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { PIECE_SIZE, pieceCount } from '../../src/library/content-id.ts'
import { CorruptSongError } from '../../src/swarm/errors.ts'
import { openPieceStore } from '../../src/swarm/store.ts'
import { cleanup, makeSong, tempDir } from './helpers.ts'

const dirs: string[] = []
after(async () => {
  await cleanup(...dirs)
})

/** A song of 3½ pieces, and a store holding every piece of it (written as the swarm writes them). */
async function completeStore(): Promise<{
  dir: string
  bytes: Buffer
  store: Awaited<ReturnType<typeof openPieceStore>>
}> {
  const dir = await tempDir('store')
  dirs.push(dir)
  const { cid, manifest, bytes } = await makeSong(dir, 3 * PIECE_SIZE + PIECE_SIZE / 2)
  const store = await openPieceStore(join(dir, 'partial'), cid, manifest)
  for (let i = pieceCount(bytes.byteLength, PIECE_SIZE) - 1; i >= 0; i--) {
    store.writePieceSync(i, bytes.subarray(i * PIECE_SIZE, (i + 1) * PIECE_SIZE))
  }
  return { dir, bytes, store }
}

test('a complete store verifies and moves the exact bytes to the destination', async () => {
  const { dir, bytes, store } = await completeStore()
  assert.equal(store.isComplete(), true)
  await Promise.all([store.verify(), store.verify()])
  const path = await store.finish(join(dir, 'music', 'song.mp3'))
  assert.equal(path, join(dir, 'music', 'song.mp3'))
  assert.ok((await readFile(path)).equals(bytes))
  assert.equal(existsSync(join(dir, 'partial')), false, 'the partial download is gone')
  await store.close()
})

test('bytes that changed on disk after their piece was verified fail the whole-song check; nothing moves', async () => {
  const { dir, store } = await completeStore()
  // Something other than the swarm overwrote a byte of piece 2 in the partial file.
  const data = await readFile(store.dataPath)
  data[2 * PIECE_SIZE + 7]! ^= 0xff
  await writeFile(store.dataPath, data)
  await assert.rejects(store.finish(join(dir, 'music', 'song.mp3')), CorruptSongError)
  assert.equal(existsSync(join(dir, 'music', 'song.mp3')), false, 'no corrupt song in the library')
  assert.equal(existsSync(store.dataPath), true, 'the partial data stays where it was')
  await store.close()
})
