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
import { closeSync, fdatasync, openSync, writevSync } from 'node:fs'
import { promisify } from 'node:util'
import { Uint8ArrayList } from 'uint8arraylist'
import { type Manifest, pieceLength } from '../../src/library/content-id.ts'
import { songMatchesCid } from '../../src/swarm/song-check.ts'
import { pieceVerifies } from '../../src/swarm/verify.ts'

export interface VerifiedSink {
  /** Take the next bytes of the stream. */
  write(bytes: Uint8Array): void
  /** fdatasync beside the whole-file check; rejects if any piece or the file failed. */
  end(): Promise<void>
}

export function verifiedSink(path: string, cid: string, manifest: Manifest): VerifiedSink {
  const fd = openSync(path, 'w+')
  // As the swarm handles a piece (download.ts, store.ts): hashed in the chunks it arrived in and
  // written from them in one writev, never copied into a buffer of its own.
  const arrived = new Uint8ArrayList()
  let index = 0
  let bad = 0
  return {
    write(bytes) {
      arrived.append(bytes)
      for (let length = pieceLength(manifest, index); ; length = pieceLength(manifest, index)) {
        if (length === 0 && arrived.byteLength > 0) throw new Error('verified sink: more bytes than the song')
        if (length === 0 || arrived.byteLength < length) return
        const piece = arrived.sublist(0, length)
        arrived.consume(length)
        if (!pieceVerifies(manifest, index, piece)) bad++
        writevSync(fd, [...piece], index * manifest.pieceSize)
        index++
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
