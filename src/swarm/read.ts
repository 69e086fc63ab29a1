/**
 * Byte-range reads, the one streaming primitive's two back ends: straight
 * from a file on disk, or piece by piece from a download as pieces arrive
 * (marking the pieces ahead of the reader critical).
 */
import { open } from 'node:fs/promises'
import { pieceLength } from '../library/content-id.ts'
import { InvalidInputError } from '../shared/errors.ts'
import type { Download } from './download.ts'

const CHUNK = 64 * 1024

export async function* readSongRange(
  path: string,
  start: number,
  endInclusive: number,
  signal?: AbortSignal,
): AsyncIterable<Uint8Array> {
  const fh = await open(path, 'r')
  try {
    for (let pos = start; pos <= endInclusive; pos += CHUNK) {
      signal?.throwIfAborted()
      const buf = new Uint8Array(Math.min(CHUNK, endInclusive - pos + 1))
      const { bytesRead } = await fh.read(buf, 0, buf.byteLength, pos)
      if (bytesRead === 0) return
      yield buf.subarray(0, bytesRead)
    }
  } finally {
    await fh.close()
  }
}

export async function* readDownloadRange(
  download: Download,
  start: number,
  endInclusive: number,
  signal?: AbortSignal,
): AsyncIterable<Uint8Array> {
  const manifest = await download.waitForManifest(signal)
  const end = Math.min(endInclusive, manifest.size - 1)
  if (start < 0 || start > end) {
    if (start === end + 1) return
    throw new InvalidInputError(`range ${start}-${endInclusive} is outside the song (${manifest.size} bytes)`)
  }
  const first = Math.floor(start / manifest.pieceSize)
  const last = Math.floor(end / manifest.pieceSize)
  const reader = download.openReader(first, last)
  try {
    for (let piece = first; piece <= last; piece++) {
      download.moveReader(reader, piece)
      await download.waitForPiece(piece, signal)
      const bytes = await download.store!.readPiece(piece)
      const pieceStart = piece * manifest.pieceSize
      const from = Math.max(start, pieceStart) - pieceStart
      const to = Math.min(end, pieceStart + pieceLength(manifest, piece) - 1) - pieceStart + 1
      yield bytes.subarray(from, to)
    }
  } finally {
    download.closeReader(reader)
  }
}
