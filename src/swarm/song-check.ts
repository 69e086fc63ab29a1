/**
 * The whole-song check before a download joins the library: every byte of
 * the data file, read back from disk, hashed again piece by piece into a
 * manifest whose CID must be the song's.
 *
 * Synchronous reads and hashing, in slices of a few MiB with a yield to the
 * event loop between them. The streamed read it replaces (`hashFile`) waited
 * for an event-loop turn per MiB; on a node still uploading to a busy swarm
 * that made the check 100–290 ms of a 16 MiB song's finish (bench:swarm
 * N = 9, where the finish was 108–322 ms of the last leecher's time).
 */

import { fstatSync, readSync } from 'node:fs'
import {
  HASH_BYTES,
  hashPiece,
  MAX_SONG_BYTES,
  type Manifest,
  manifestMatches,
  pieceCount,
} from '../library/content-id.ts'

/** Hashed between yields: ~3 ms of SHA-256 here, so the node keeps serving its peers. */
const SLICE_BYTES = 4 * 1024 * 1024

/** True when the file open at `fd` is exactly the song `cid` names, laid out in `manifest`'s pieces. */
export async function songMatchesCid(fd: number, cid: string, manifest: Manifest): Promise<boolean> {
  const size = fstatSync(fd).size
  if (size > MAX_SONG_BYTES) return false
  const { pieceSize } = manifest
  const pieceHashes = new Uint8Array(pieceCount(size, pieceSize) * HASH_BYTES)
  const slice = Buffer.allocUnsafe(Math.max(1, Math.floor(SLICE_BYTES / pieceSize)) * pieceSize)
  let piece = 0
  for (let offset = 0; offset < size; ) {
    const length = Math.min(slice.byteLength, size - offset)
    for (let got = 0; got < length; ) {
      const n = readSync(fd, slice, got, length - got, offset + got)
      if (n === 0) return false // the file shrank under us
      got += n
    }
    for (let at = 0; at < length; at += pieceSize, piece++) {
      const bytes = slice.subarray(at, Math.min(at + pieceSize, length))
      pieceHashes.set(hashPiece(bytes), piece * HASH_BYTES)
    }
    offset += length
    if (offset < size) await new Promise((resolve) => setImmediate(resolve))
  }
  return manifestMatches(cid, { size, pieceSize, pieceHashes })
}
