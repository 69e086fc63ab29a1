/**
 * Where a download's pieces live while it arrives: `<dataDir>/downloads/<cid>/`
 * holds `data` (the song, written at piece offsets), `have` (the bitfield of
 * verified pieces) and `manifest` (so a restarted node resumes without asking
 * anyone for it). Only verified pieces are written. The bitfield is persisted
 * after an fdatasync of the data, so it never claims bytes that a crash could
 * lose; on reopening, every claimed piece is verified again.
 */

import {
  constants,
  ftruncateSync,
  mkdirSync,
  readFileSync,
  readSync,
  writeFileSync,
  writevSync,
} from 'node:fs'
import { copyFile, type FileHandle, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import {
  decodeManifest,
  encodeManifest,
  type Manifest,
  pieceCount,
  pieceLength,
  verifyPiece,
} from '../library/content-id.ts'
import { isDiskFull } from '../shared/errors.ts'
import { countPieces, createBitfield, hasPiece, isValidBitfield, setPiece } from './bitfield.ts'
import { CorruptSongError } from './errors.ts'
import { songMatchesCid } from './song-check.ts'

/**
 * Piece reads and writes use the synchronous fs calls on purpose: a 64 KiB
 * copy to or from the page cache takes tens of microseconds, while a trip
 * through libuv's four-thread pool (shared with fdatasync) measured 1–15 ms
 * per piece under load and capped a transfer at a few MiB/s.
 */
/** Persist the bitfield at most this often while pieces arrive. */
const FLUSH_DELAY_MS = 500

export interface PieceStore {
  readonly cid: string
  readonly manifest: Manifest
  readonly pieces: number
  /** The partial song's bytes (until `finish` moves them). */
  readonly dataPath: string
  /** Verified, written pieces (live view; do not mutate). */
  readonly have: Uint8Array
  count(): number
  isComplete(): boolean
  /** Store a piece the caller has verified. Idempotent. */
  writePiece(index: number, bytes: Uint8Array): Promise<void>
  /**
   * Same, synchronously (a page-cache copy, ~30 µs for 64 KiB): the bitfield
   * is updated on return. Takes the piece as the chunks it arrived in (one
   * `writev`, no concatenation).
   */
  writePieceSync(index: number, bytes: Uint8Array | Iterable<Uint8Array>): void
  readPiece(index: number): Promise<Uint8Array>
  readRange(start: number, endInclusive: number): Promise<Uint8Array>
  flush(): Promise<void>
  /**
   * Make the data durable and re-hash the whole song against its CID (once;
   * later calls share the result). Rejects with `CorruptSongError` on a mismatch.
   */
  verify(): Promise<void>
  /** `verify`, then move the song to `dest`; returns the final path. */
  finish(dest: string): Promise<string>
  close(): Promise<void>
  /** Close and delete the partial download. */
  destroy(): Promise<void>
}

export function downloadDir(dataDir: string, cid: string): string {
  return join(dataDir, 'downloads', cid)
}

/** The manifest of a partial download on disk, if any. */
export async function readStoredManifest(dir: string): Promise<Manifest | undefined> {
  try {
    return decodeManifest(await readFile(join(dir, 'manifest')))
  } catch {
    return undefined
  }
}

export async function openPieceStore(dir: string, cid: string, manifest: Manifest): Promise<PieceStore> {
  // Small synchronous calls (no fsync among them): this is on the way to a download's first
  // request, and each of eight awaited calls waited its turn on a busy event loop (13–193 ms in
  // all from a leecher's handshake to its store being ready in bench:swarm N = 9; now 11–58).
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'manifest'), encodeManifest(manifest))
  const dataPath = join(dir, 'data')
  const pieces = pieceCount(manifest.size, manifest.pieceSize)
  // Read-write, created if missing, never truncated nor in append mode (pieces go at their offsets).
  let fh: FileHandle = await open(dataPath, constants.O_RDWR | constants.O_CREAT)
  ftruncateSync(fh.fd, manifest.size)
  const have = createBitfield(pieces)
  // Resume: trust nothing on disk without checking it.
  let claimed: Uint8Array | undefined
  try {
    claimed = new Uint8Array(readFileSync(join(dir, 'have')))
  } catch {}
  if (claimed !== undefined && isValidBitfield(claimed, pieces)) {
    for (let i = 0; i < pieces; i++) {
      if (!hasPiece(claimed, i)) continue
      const buf = new Uint8Array(pieceLength(manifest, i))
      await fh.read(buf, 0, buf.byteLength, i * manifest.pieceSize)
      if (verifyPiece(manifest, i, buf)) setPiece(have, i)
    }
  }
  // The bitfield file exists from the start, so that a disk that fills up later can still take its
  // updates in place (see flush).
  if (claimed === undefined || !isValidBitfield(claimed, pieces)) writeFileSync(join(dir, 'have'), have)
  let haveCount = countPieces(have, pieces)
  let flushTimer: NodeJS.Timeout | undefined
  let flushing: Promise<void> = Promise.resolve()
  let closed = false
  let finalPath: string | undefined

  const cancelFlushTimer = (): void => {
    if (flushTimer !== undefined) clearTimeout(flushTimer)
    flushTimer = undefined
  }

  const flush = (): Promise<void> => {
    cancelFlushTimer()
    flushing = flushing.then(async () => {
      if (closed || finalPath !== undefined) return
      const snapshot = have.slice()
      await fh.datasync()
      const tmp = join(dir, 'have.tmp')
      try {
        await writeFile(tmp, snapshot)
        await rename(tmp, join(dir, 'have'))
      } catch (err) {
        // A full disk has no room for a new file, but the old bitfield's bytes can be overwritten in
        // place. A torn write is harmless: bits only ever get set, and reopening re-verifies each claim.
        if (!isDiskFull(err)) throw err
        await rm(tmp, { force: true })
        await writeFile(join(dir, 'have'), snapshot, { flag: 'r+' })
      }
    })
    return flushing
  }

  let verified: Promise<void> | undefined
  const verify = (): Promise<void> => {
    // The data's fdatasync (libuv's pool) and the whole-file check (this thread, from the page cache)
    // overlap. The `have` file is not rewritten: the song is about to leave this directory, and if the
    // node dies first, a resume re-verifies what the old file claims and fetches the rest (16 MiB song,
    // bench:swarm's pair: the rewrite and rename kept the finish waiting ~8 ms after the fdatasync).
    if (verified !== undefined) return verified
    cancelFlushTimer()
    const synced = flushing.catch(() => {}).then(() => fh.datasync())
    verified = Promise.all([synced, songMatchesCid(fh.fd, cid, manifest)]).then(([, matches]) => {
      if (!matches) throw new CorruptSongError(cid)
    })
    return verified
  }

  const writePieceSync = (index: number, bytes: Uint8Array | Iterable<Uint8Array>): void => {
    if (hasPiece(have, index)) return
    const chunks = bytes instanceof Uint8Array ? [bytes] : [...bytes]
    const total = chunks.reduce((n, c) => n + c.byteLength, 0)
    let position = index * manifest.pieceSize
    let written = 0
    // writev may write less than asked (rarely, for regular files); finish the rest.
    while (written < total) {
      let skip = written
      const rest: Uint8Array[] = []
      for (const c of chunks) {
        if (skip >= c.byteLength) skip -= c.byteLength
        else {
          rest.push(skip === 0 ? c : c.subarray(skip))
          skip = 0
        }
      }
      const n = writevSync(fh.fd, rest, position)
      written += n
      position += n
    }
    setPiece(have, index)
    haveCount++
    if (flushTimer === undefined && !closed) {
      flushTimer = setTimeout(() => void flush().catch(() => {}), FLUSH_DELAY_MS)
    }
  }

  return {
    cid,
    manifest,
    pieces,
    dataPath,
    have,
    count: () => haveCount,
    isComplete: () => haveCount === pieces,
    writePieceSync,
    async writePiece(index, bytes) {
      writePieceSync(index, bytes)
    },
    async readPiece(index) {
      // Uninitialised is fine: every byte is overwritten by the read.
      const buf = Buffer.allocUnsafeSlow(pieceLength(manifest, index))
      readSync(fh.fd, buf, 0, buf.byteLength, index * manifest.pieceSize)
      return buf
    },
    async readRange(start, endInclusive) {
      const buf = new Uint8Array(endInclusive - start + 1)
      readSync(fh.fd, buf, 0, buf.byteLength, start)
      return buf
    },
    flush,
    verify,
    async finish(dest) {
      await verify()
      await fh.close()
      await mkdir(dirname(dest), { recursive: true })
      try {
        await rename(dataPath, dest)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err
        // Across file systems: a copy that fails (a full disk) must not leave half a song in the library.
        await copyFile(dataPath, dest).catch(async (copyErr: unknown) => {
          await rm(dest, { force: true })
          throw copyErr
        })
      }
      finalPath = dest
      fh = await open(dest, 'r')
      await rm(dir, { recursive: true, force: true })
      return dest
    },
    async close() {
      if (closed) return
      if (finalPath === undefined) await flush().catch(() => {})
      closed = true
      await fh.close().catch(() => {})
    },
    async destroy() {
      cancelFlushTimer()
      closed = true
      await fh.close().catch(() => {})
      if (finalPath === undefined) await rm(dir, { recursive: true, force: true })
    },
  }
}
