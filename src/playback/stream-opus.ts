/**
 * Ogg Opus from the party's position, for ./stream-song.ts. Every Ogg page
 * ends with a granule position: the samples decoded by the end of its last
 * whole packet, counted from the stream's start (RFC 7845 §4). So a page that
 * starts with a whole packet starts at the granule position of the page
 * before it, and a decoder fed the headers and then the pages from there puts
 * out the song from exactly that sample. Its state needs a moment to settle
 * (RFC 7845 §4.6: 80 ms), so decoding starts at least that long before the
 * position and that audio is thrown away, as for a CBR MP3. The page is found
 * from the position's share of the bytes, stepped back until a page before the
 * position is in view; a page counts only when the next one follows right
 * after it. Over a slow link the first look may instead settle for a page a
 * little past the position (no further than that look took to read): reading
 * back would cost as much again while the party moves on. The decoder gets the
 * identification header and an empty comment header (./opus-headers.ts); the
 * comments are read past only to find where the audio starts (cover art can
 * make them long: over 16 MiB, the song streams from its start,
 * ./stream-sequential.ts).
 */
import { CorruptAudioError } from './errors.ts'
import { decoderHeaders, type OggPageHeader, oggPageAt, opusAudioStart } from './opus-headers.ts'
import { decodeInto, endGranule, openOpusDecoder, readOpusHead } from './stream-sequential.ts'
import { type ByteSource, bytesAt, type StreamableSource } from './stream-song.ts'

/** Decoded and thrown away before the position while the decoder settles: 80 ms at 48 kHz. */
export const OPUS_PREROLL = 3840
/** Bytes read around the estimated offset, and the first step back: a page is at most ~64 KiB. */
const WINDOW_BYTES = 128 * 1024
const MAX_TRIES = 12

/**
 * At most this far past the position, a stream may start at the first page it
 * found there instead of reading back for an earlier one (and then only as far
 * as that read took: the read back would have cost as much again).
 */
const MAX_LATE_START_SEC = 5

/**
 * In `bytes` (the file's bytes from `offset`), the page to decode from so that
 * the output reaches back to granule position `target`: the latest page that
 * starts with a whole packet, follows a page whose granule position is at most
 * `target`, and is itself followed by a page (or the file's end). Also the
 * earliest such page past `target` (`after`), the earliest page seen, to aim
 * again when none qualifies, and whether a page past `target` was seen (then
 * no later page can qualify).
 */
export function findOpusSeekPage(
  bytes: Uint8Array,
  offset: number,
  fileSize: number,
  serial: number,
  target: number,
): {
  page?: OggPageHeader
  startGranule?: number
  after?: { page: OggPageHeader; startGranule: number }
  earliest?: OggPageHeader
  beyond: boolean
} {
  let best: { page: OggPageHeader; startGranule: number } | undefined
  let after: { page: OggPageHeader; startGranule: number } | undefined
  let earliest: OggPageHeader | undefined
  let beyond = false
  for (let at = 0; at + 27 <= bytes.length; at++) {
    const page = oggPageAt(bytes, at, serial)
    if (page === undefined) continue
    const nextAt = at + page.length
    const next = oggPageAt(bytes, nextAt, serial)
    // Confirmed: the next page follows at once (or the file ends there). Sync words turn up in audio.
    if (next === undefined && offset + nextAt !== fileSize) continue
    if (page.granule >= 0 && (earliest === undefined || page.granule < earliest.granule)) earliest = page
    if (page.granule > target) beyond = true
    if (next !== undefined && !next.continued && page.granule >= 0 && page.granule <= target) {
      if (best === undefined || page.granule >= best.startGranule)
        best = { page: { ...next, at: offset + next.at }, startGranule: page.granule }
    }
    if (next !== undefined && !next.continued && page.granule > target) {
      if (after === undefined || page.granule < after.startGranule)
        after = { page: { ...next, at: offset + next.at }, startGranule: page.granule }
    }
    at = nextAt - 1
  }
  return {
    ...best,
    after,
    earliest: earliest === undefined ? undefined : { ...earliest, at: offset + earliest.at },
    beyond,
  }
}

/** Comment headers this long (cover art) are read to find the audio; longer ones leave the song to play from its start. */
const MAX_HEADER_BYTES = 16 * 1024 * 1024

/** Where the audio pages begin: in the head, or further on when the comments are long. */
async function audioStartOf(
  head: Uint8Array,
  source: ByteSource,
  serial: number,
  signal?: AbortSignal,
): Promise<number | undefined> {
  let bytes = head
  for (let n = head.length * 4; ; n *= 4) {
    const at = opusAudioStart(bytes, serial)
    if (at !== undefined || bytes.length >= source.size || bytes.length >= MAX_HEADER_BYTES) return at
    bytes = await bytesAt(head, source, 0, Math.min(n, MAX_HEADER_BYTES), signal)
  }
}

/** An Ogg Opus file that can start at any position, or undefined when it cannot (see the file comment). */
export async function opusSeekable(
  head: Uint8Array,
  source: ByteSource,
  signal?: AbortSignal,
): Promise<StreamableSource | undefined> {
  const info = readOpusHead(head)
  if (info === undefined || info.channels === 0) return undefined
  const audioStartAt = await audioStartOf(head, source, info.serial, signal)
  const headers = decoderHeaders(head, info.serial)
  if (audioStartAt === undefined || headers === undefined) return undefined
  const audioStart: number = audioStartAt
  const end = await endGranule(head, source, info.serial, signal)
  if (end === undefined || end <= info.preSkip) return undefined
  const last: number = end
  const { channels, preSkip, serial } = info
  const frames = last - preSkip

  /**
   * Pages from `start` on, read as they arrive (no further than needed: a
   * page past the target ends the search), up to `WINDOW_BYTES`.
   */
  async function scan(
    start: number,
    target: number,
    readSignal?: AbortSignal,
  ): Promise<ReturnType<typeof findOpusSeekPage>> {
    const parts: Uint8Array[] = []
    let found: ReturnType<typeof findOpusSeekPage> = { beyond: false }
    const lastByte = Math.min(source.size, start + WINDOW_BYTES) - 1
    for await (const chunk of source.read(start, lastByte, readSignal)) {
      parts.push(chunk)
      found = findOpusSeekPage(Buffer.concat(parts), start, source.size, serial, target)
      if (found.beyond) break
    }
    return found
  }

  /** The page to decode from for song frame `from`, and the song frame its first output sample is. */
  async function seekPage(
    from: number,
    readSignal?: AbortSignal,
  ): Promise<{ at: number; firstFrame: number; late?: boolean } | undefined> {
    // Song frame f is granule position f + pre-skip; the decoder's output starts at the page's start.
    const target = from + preSkip - OPUS_PREROLL
    if (target <= preSkip) return undefined
    const audioBytes = source.size - audioStart
    let start = audioStart + Math.floor((target / last) * audioBytes) - WINDOW_BYTES / 2
    let margin = WINDOW_BYTES
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      start = Math.max(audioStart, Math.min(start, source.size - 1))
      const scanStarted = performance.now()
      const found = await scan(start, target, readSignal)
      if (found.page !== undefined && found.startGranule !== undefined) {
        return { at: found.page.at, firstFrame: found.startGranule }
      }
      // Over a slow link, reading back costs about what this read did, and the party moves on
      // meanwhile: a page past the position, by no more than that, is the better start.
      const lateOk = Math.min(MAX_LATE_START_SEC, (performance.now() - scanStarted) / 1000) * 48_000
      if (tries === 0 && found.after !== undefined && found.after.startGranule - target <= lateOk) {
        return { at: found.after.page.at, firstFrame: found.after.startGranule, late: true }
      }
      if (start === audioStart) return undefined // every page here is past the target: decode from the start
      // Step back: by the bytes per granule seen so far when a page was in view, with a margin that doubles.
      const aim =
        found.earliest !== undefined && found.earliest.granule > target
          ? found.earliest.at -
            Math.ceil(
              ((found.earliest.granule - target) / found.earliest.granule) * (found.earliest.at - audioStart),
            )
          : start
      start = Math.min(aim, start) - margin
      margin *= 2
    }
    throw new CorruptAudioError(`no Ogg page before sample ${from} of this Opus stream`)
  }

  return {
    channels,
    sampleRate: 48_000,
    frames,
    async fill(from, to, into, progress, fillSignal) {
      if (to <= from) return
      // The first audio page starts at sample 0.
      const seek = (from === 0 ? undefined : await seekPage(from, fillSignal)) ?? {
        at: audioStart,
        firstFrame: 0,
      }
      const chunks = source.read(seek.at, source.size - 1, fillSignal)
      const run = { open: openOpusDecoder, kind: 'Ogg Opus', channels, frames, prefix: headers, chunks }
      // The codec's padding past the song's end is dropped, as the whole-file decode trims it.
      // A start past `from` (a slow link, see seekPage) drops the decoder's settling audio as well.
      const start = seek.late === true ? Math.min(to, seek.firstFrame + OPUS_PREROLL) : from
      await decodeInto(run, {
        firstFrame: seek.firstFrame,
        from: start,
        to,
        into,
        progress: (upTo) => progress(upTo, start),
        overflow: 'drop',
      })
    },
  }
}
