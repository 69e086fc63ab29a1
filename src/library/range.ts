/** Reading a byte range of a song from disk: the one primitive behind HTTP Range replies and piece uploads. */
import { createReadStream } from 'node:fs'
import { SongRangeError } from './errors.ts'
import type { Song } from './types.ts'

/** Bytes `start..endInclusive` of the song's file, in chunks of at most 64 KiB. */
export async function* openSongRange(
  song: Pick<Song, 'path' | 'size'>,
  start: number,
  endInclusive: number,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  if (
    !Number.isSafeInteger(start) ||
    !Number.isSafeInteger(endInclusive) ||
    start < 0 ||
    endInclusive < start ||
    endInclusive >= song.size
  ) {
    throw new SongRangeError(`range ${start}-${endInclusive} is outside the song's ${song.size} bytes`)
  }
  const stream = createReadStream(song.path, { start, end: endInclusive, highWaterMark: 64 * 1024, signal })
  let delivered = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    delivered += chunk.length
    yield chunk
  }
  // A file that shrank since it was indexed must not pass for a complete answer.
  if (delivered !== endInclusive - start + 1) {
    throw new SongRangeError(
      `the file of this song changed on disk (read ${delivered} of ${endInclusive - start + 1} bytes)`,
    )
  }
}
