/**
 * Piece verification in one crypto call (`crypto.hash`, no Hash object per
 * piece), compared in place against the manifest's hash. Pure.
 */
import { hash } from 'node:crypto'
import { HASH_BYTES, type Manifest, pieceLength } from '../library/content-id.ts'

export function pieceVerifies(manifest: Manifest, index: number, bytes: Uint8Array): boolean {
  if (bytes.byteLength !== pieceLength(manifest, index)) return false
  const digest = hash('sha256', bytes, 'buffer')
  return digest.compare(manifest.pieceHashes, index * HASH_BYTES, (index + 1) * HASH_BYTES) === 0
}
