/**
 * The least a verifying, persisting download can do with a song that arrives
 * as one ordered stream: cut it into its pieces, hash each against the
 * manifest before it is written at its offset, and at the end make the file
 * durable (fdatasync) while it is read back and checked against the CID —
 * the swarm's own work per byte (store.ts, song-check.ts), without the
 * protocol, picking or bookkeeping. bench:swarm's pair measures the swarm
 * against a bare stream feeding this sink as well as against a bare stream
 * alone, so the report separates what verification and storage cost on this
 * machine from what the swarm adds.
 */
import { closeSync, fdatasync, openSync, writeSync } from 'node:fs'
import { promisify } from 'node:util'
import { type Manifest, pieceLength } from '../../src/library/content-id.ts'
import { songMatchesCid } from '../../src/swarm/song-check.ts'
import { pieceVerifies } from '../../src/swarm/verify.ts'

export interface VerifiedSink {
  /** Take the next bytes of the stream (they are copied where a piece spans chunks). */
  write(bytes: Uint8Array): void
  /** fdatasync beside the whole-file check; rejects if any piece or the file failed. */
  end(): Promise<void>
}

export function verifiedSink(path: string, cid: string, manifest: Manifest): VerifiedSink {
  const fd = openSync(path, 'w+')
  let index = 0
  let piece = Buffer.allocUnsafe(manifest.pieceSize)
  let fill = 0
  let bad = 0
  const store = (bytes: Uint8Array): void => {
    if (!pieceVerifies(manifest, index, bytes)) bad++
    writeSync(fd, bytes, 0, bytes.byteLength, index * manifest.pieceSize)
    index++
  }
  return {
    write(bytes) {
      let at = 0
      while (at < bytes.byteLength) {
        const length = pieceLength(manifest, index)
        if (length === 0) throw new Error('verified sink: more bytes than the song')
        const want = length - fill
        if (fill === 0 && bytes.byteLength - at >= want) {
          // A whole piece inside this chunk: hashed and written where it lies.
          store(bytes.subarray(at, at + want))
          at += want
          continue
        }
        const n = Math.min(want, bytes.byteLength - at)
        piece.set(bytes.subarray(at, at + n), fill)
        fill += n
        at += n
        if (fill === length) {
          store(piece.subarray(0, fill))
          piece = Buffer.allocUnsafe(manifest.pieceSize)
          fill = 0
        }
      }
    },
    async end() {
      try {
        const [, matches] = await Promise.all([promisify(fdatasync)(fd), songMatchesCid(fd, cid, manifest)])
        if (bad > 0 || !matches) throw new Error(`verified sink: ${bad} bad pieces, file matches: ${matches}`)
      } finally {
        closeSync(fd)
      }
    },
  }
}
