/**
 * Piece verification against the manifest's hash, compared in place. A piece
 * in one buffer takes one crypto call (`crypto.hash`); a piece still in the
 * chunks it arrived in is hashed chunk by chunk, so it is never copied. Pure.
 */
import { createHash, hash } from 'node:crypto'
import type { Uint8ArrayList } from 'uint8arraylist'
import { HASH_BYTES, type Manifest, pieceLength } from '../library/content-id.ts'

export function pieceVerifies(
  manifest: Manifest,
  index: number,
  bytes: Uint8Array | Uint8ArrayList,
): boolean {
  if (bytes.byteLength !== pieceLength(manifest, index)) return false
  let digest: Buffer
  if (bytes instanceof Uint8Array) digest = hash('sha256', bytes, 'buffer')
  else {
    const h = createHash('sha256')
    for (const chunk of bytes) h.update(chunk)
    digest = h.digest()
  }
  return digest.compare(manifest.pieceHashes, index * HASH_BYTES, (index + 1) * HASH_BYTES) === 0
}
