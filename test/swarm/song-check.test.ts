// The whole-song check: the file on disk, re-hashed piece by piece, must be the song its CID names.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { closeSync, openSync } from 'node:fs'
import { appendFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import {
  HASH_BYTES,
  hashPiece,
  type Manifest,
  manifestCid,
  pieceCount,
} from '../../src/library/content-id.ts'
import { songMatchesCid } from '../../src/swarm/song-check.ts'
import { cleanup, makeSong, tempDir } from './helpers.ts'

const dirs: string[] = []
after(async () => {
  await cleanup(...dirs)
})

async function check(path: string, cid: string, manifest: Manifest): Promise<boolean> {
  const fd = openSync(path, 'r')
  try {
    return await songMatchesCid(fd, cid, manifest)
  } finally {
    closeSync(fd)
  }
}

test('a song of several slices, its last piece short, matches its CID; one flipped byte or one byte more does not', async () => {
  const dir = await tempDir('song-check')
  dirs.push(dir)
  // 9 MiB and a bit: three slices of the check, and a short last piece.
  const { cid, manifest, path, bytes } = await makeSong(dir, 9 * 1024 * 1024 + 1234)
  assert.equal(await check(path, cid, manifest), true)
  const flipped = Buffer.from(bytes)
  flipped[5 * 1024 * 1024 + 77]! ^= 0x01
  await writeFile(path, flipped)
  assert.equal(await check(path, cid, manifest), false, 'a flipped byte in the second slice')
  await writeFile(path, bytes)
  await appendFile(path, Buffer.from([0]))
  assert.equal(await check(path, cid, manifest), false, 'a byte appended')
})

test('a manifest with larger pieces is checked in its own layout, and an empty song matches', async () => {
  const dir = await tempDir('song-check')
  dirs.push(dir)
  const pieceSize = 256 * 1024
  const bytes = randomBytes(3 * pieceSize + 99)
  const pieces = pieceCount(bytes.byteLength, pieceSize)
  const pieceHashes = new Uint8Array(pieces * HASH_BYTES)
  for (let i = 0; i < pieces; i++)
    pieceHashes.set(hashPiece(bytes.subarray(i * pieceSize, (i + 1) * pieceSize)), i * HASH_BYTES)
  const manifest = { size: bytes.byteLength, pieceSize, pieceHashes }
  const cid = (await manifestCid(manifest)).toString()
  const path = join(dir, 'big-pieces')
  await writeFile(path, bytes)
  assert.equal(await check(path, cid, manifest), true)

  const empty = { size: 0, pieceSize: 64 * 1024, pieceHashes: new Uint8Array(0) }
  const emptyPath = join(dir, 'empty')
  await writeFile(emptyPath, new Uint8Array(0))
  assert.equal(await check(emptyPath, (await manifestCid(empty)).toString(), empty), true)
})
