/**
 * Content ids and piece layouts. A song's bytes are cut into fixed-size
 * pieces, each hashed with SHA-256. The manifest (size, piece size, the piece
 * hashes) is encoded as DAG-CBOR and its SHA-256 is the song's CID (CIDv1,
 * dag-cbor codec). One hashing pass over the file yields both; a peer that
 * receives a manifest checks it against the CID before trusting any hash in it.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { TuttiError } from '../shared/errors.ts'

/** 64 KiB: small enough that streaming starts fast, large enough that per-piece overhead stays under 0.1 %. */
export const PIECE_SIZE = 64 * 1024
export const HASH_BYTES = 32
/** Largest song we index or fetch (4 GiB); bounds manifest size on the wire. */
export const MAX_SONG_BYTES = 4 * 1024 ** 3

export interface Manifest {
  size: number
  pieceSize: number
  /** Concatenated SHA-256 hashes, `HASH_BYTES` per piece. */
  pieceHashes: Uint8Array
}

export class ManifestError extends TuttiError {
  constructor(message: string) {
    super('MANIFEST_INVALID', message, 422)
  }
}

export function pieceCount(size: number, pieceSize: number): number {
  return Math.ceil(size / pieceSize)
}

/** Byte length of piece `index` (the last piece may be short). */
export function pieceLength(manifest: Pick<Manifest, 'size' | 'pieceSize'>, index: number): number {
  const start = index * manifest.pieceSize
  return Math.max(0, Math.min(manifest.pieceSize, manifest.size - start))
}

export function pieceHash(manifest: Manifest, index: number): Uint8Array {
  return manifest.pieceHashes.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES)
}

export function encodeManifest(manifest: Manifest): Uint8Array {
  return dagCbor.encode({
    v: 1,
    size: manifest.size,
    pieceSize: manifest.pieceSize,
    pieces: manifest.pieceHashes,
  })
}

export function decodeManifest(bytes: Uint8Array): Manifest {
  let raw: unknown
  try {
    raw = dagCbor.decode(bytes)
  } catch (err) {
    throw new ManifestError(`undecodable manifest: ${(err as Error).message}`)
  }
  const m = raw as { v?: unknown; size?: unknown; pieceSize?: unknown; pieces?: unknown }
  if (
    m.v !== 1 ||
    !Number.isSafeInteger(m.size) ||
    !Number.isSafeInteger(m.pieceSize) ||
    !(m.pieces instanceof Uint8Array)
  ) {
    throw new ManifestError('manifest has the wrong shape')
  }
  const manifest = { size: m.size as number, pieceSize: m.pieceSize as number, pieceHashes: m.pieces }
  validateManifest(manifest)
  return manifest
}

export function validateManifest(m: Manifest): void {
  if (m.size < 0 || m.size > MAX_SONG_BYTES) throw new ManifestError(`song size ${m.size} out of range`)
  if (m.pieceSize < 1024 || m.pieceSize > 16 * 1024 * 1024)
    throw new ManifestError(`piece size ${m.pieceSize} out of range`)
  if (m.pieceHashes.byteLength !== pieceCount(m.size, m.pieceSize) * HASH_BYTES) {
    throw new ManifestError('piece hash count does not match the song size')
  }
}

export async function manifestCid(manifest: Manifest): Promise<CID> {
  return CID.create(1, dagCbor.code, await sha256.digest(encodeManifest(manifest)))
}

/** True when `manifest` is the one `cid` names. */
export async function manifestMatches(cid: CID | string, manifest: Manifest): Promise<boolean> {
  const expected = typeof cid === 'string' ? CID.parse(cid) : cid
  return (await manifestCid(manifest)).equals(expected)
}

export function hashPiece(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

export function verifyPiece(manifest: Manifest, index: number, bytes: Uint8Array): boolean {
  if (bytes.byteLength !== pieceLength(manifest, index)) return false
  return Buffer.from(hashPiece(bytes)).equals(pieceHash(manifest, index))
}

/** Parse a CID string given by a user or a peer; throws a clear error for anything else. */
export function parseCid(text: string): CID {
  try {
    const cid = CID.parse(text)
    if (cid.version !== 1 || cid.code !== dagCbor.code) throw new Error('not a Tutti song id')
    return cid
  } catch (err) {
    throw new ManifestError(`invalid song id ${JSON.stringify(text.slice(0, 80))}: ${(err as Error).message}`)
  }
}

export interface HashedFile {
  cid: string
  manifest: Manifest
}

/** One streaming pass over a file: piece hashes, manifest and CID. */
export async function hashFile(
  path: string,
  options: { signal?: AbortSignal; onBytes?: (n: number) => void } = {},
): Promise<HashedFile> {
  const hashes: Buffer[] = []
  let size = 0
  let current = createHash('sha256')
  let filled = 0
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024, signal: options.signal })
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let offset = 0
    while (offset < chunk.length) {
      const take = Math.min(PIECE_SIZE - filled, chunk.length - offset)
      current.update(chunk.subarray(offset, offset + take))
      filled += take
      offset += take
      if (filled === PIECE_SIZE) {
        hashes.push(current.digest())
        current = createHash('sha256')
        filled = 0
      }
    }
    size += chunk.length
    options.onBytes?.(chunk.length)
    if (size > MAX_SONG_BYTES) throw new ManifestError(`file larger than ${MAX_SONG_BYTES} bytes`)
  }
  if (filled > 0) hashes.push(current.digest())
  const manifest: Manifest = {
    size,
    pieceSize: PIECE_SIZE,
    pieceHashes: new Uint8Array(Buffer.concat(hashes)),
  }
  return { cid: (await manifestCid(manifest)).toString(), manifest }
}
