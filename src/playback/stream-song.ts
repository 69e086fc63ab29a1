/**
 * Play a song while it is still arriving: read its first bytes, then decode
 * from the party's position onwards, then the part before it — decoding (and
 * resampling) each chunk as it lands. Resolves as soon as a little audio past
 * the position is decoded; the song's `ready` range grows behind it, and the
 * renderer plays only frames inside it (silence, and an honest "loading"
 * playhead, elsewhere). This is what lets a member who joins mid-song hear it
 * within a second instead of after the whole download.
 *
 * Formats that can start mid-file: WAV (./stream-wav.ts: any frame is a byte
 * offset) and constant-bitrate MP3 (./stream-mp3.ts: decoded from a frame
 * boundary a few frames early, whose output is thrown away) and FLAC
 * (./stream-flac.ts: from the frame holding the position; frames decode on
 * their own) and Ogg Opus (./stream-opus.ts: from the page before the
 * position, found by its granule position). VBR MP3 and Ogg Vorbis stream
 * too, but only from their start (./stream-sequential.ts), as does an Opus
 * with over 16 MiB of comments: the party's position plays once everything
 * before it is in. A file whose length its header leaves open needs the whole
 * file: `streamSong` answers undefined.
 */
import { type DecodedSong, detectFormat } from './decode.ts'
import { resampleArrived, resampledLength } from './resample.ts'

export interface ByteSource {
  size: number
  /** Bytes [start, endInclusive], in order, as they arrive. */
  read(start: number, endInclusive: number, signal?: AbortSignal): AsyncIterable<Uint8Array>
}

export interface StreamSongOptions {
  /** Media second to start from (the party's position when the song was asked for). */
  startAt: number
  /**
   * Where the party is in the song now, asked when decoding starts (after the
   * file's head, and for some formats its tail, have been read); undefined
   * keeps `startAt`. A slow link spends seconds on those reads, and the party
   * moves on meanwhile.
   */
  position?: () => number | undefined
  /**
   * Aim this much past the position, s: the audio there arrives a read later.
   * Default: as long as reading the file's head took, when that was slow
   * (`SLOW_HEAD_SEC`), at most `MAX_AIM_AHEAD_SEC`.
   */
  aheadSec?: number
  outputSampleRate: number
  signal?: AbortSignal
  /** Resolve once this much audio past `startAt` is decoded, s. Default 0.5. */
  leadSec?: number
  /** Begin this long before `startAt`, s (the clock may place the join a little earlier). Default 0.25. */
  backSec?: number
  /** Called once when the whole song is decoded, or with the error that stopped it. */
  onDone?: (error?: Error) => void
}

/** A song file that can be decoded from any source frame, range by range, as its bytes arrive. */
export interface StreamableSource {
  channels: number
  /** Rate of the file. */
  sampleRate: number
  /** Source frames in the whole song (exactly what a whole-file decode gives). */
  frames: number
  /** Decodes only from frame 0 on: `fill` is called once, from 0 (./stream-sequential.ts). */
  sequential?: boolean
  /**
   * Decode source frames [from, to) into `into` (planar, `frames` long) as
   * their bytes arrive; after each step `progress(upTo)` says frames
   * [from, upTo) are final. A source that starts a little after `from`
   * instead (cheaper than reading back for it over a slow link) says where:
   * `progress(upTo, startedAt)`, frames [startedAt, upTo).
   */
  fill(
    from: number,
    to: number,
    into: Float32Array[],
    progress: (upTo: number, startedAt?: number) => void,
    signal?: AbortSignal,
  ): Promise<void>
}

/** First bytes read to recognise a format and find where its audio starts. */
export const HEAD_BYTES = 64 * 1024
/** A stream aims at most this far past the party's position. */
export const MAX_AIM_AHEAD_SEC = 10
/**
 * A head (64 KiB) that took less than this came over a fast enough link
 * (128 KiB/s or more): the stream aims at the position itself. The bar sits
 * well above what a busy machine adds to a fast read.
 */
export const SLOW_HEAD_SEC = 0.5

/** Bytes [start, end] of `source`, all of them. */
export async function collect(
  source: ByteSource,
  start: number,
  end: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of source.read(start, end, signal)) parts.push(chunk)
  return Buffer.concat(parts)
}

/** Bytes [offset, offset + n) of `source` (fewer at its end): from `head`, its first bytes, when they are there. */
export async function bytesAt(
  head: Uint8Array,
  source: ByteSource,
  offset: number,
  n: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  if (offset + n <= head.length) return head.subarray(offset, offset + n)
  const end = Math.min(source.size, offset + n) - 1
  return end < offset ? new Uint8Array(0) : collect(source, offset, end, signal)
}

export type StreamFormat = 'wav' | 'mp3' | 'flac' | 'ogg-opus' | 'ogg-vorbis'

/** A song that fills in as it arrives, or undefined when this file cannot stream (its format, an odd rate). */
export async function streamSong(
  source: ByteSource,
  options: StreamSongOptions,
  /** Only these formats (default: every one that can stream). */
  formats: ReadonlyArray<StreamFormat> = ['wav', 'mp3', 'flac', 'ogg-opus', 'ogg-vorbis'],
): Promise<DecodedSong | undefined> {
  const askedAt = performance.now()
  const head = await collect(source, 0, Math.min(source.size, HEAD_BYTES) - 1, options.signal)
  // The audio at the position comes in another read about as long as this one: aim where the party will be.
  const headSec = (performance.now() - askedAt) / 1000
  const aheadSec = options.aheadSec ?? (headSec < SLOW_HEAD_SEC ? 0 : Math.min(MAX_AIM_AHEAD_SEC, headSec))
  const format = detectFormat(head)
  let streamable: StreamableSource | undefined
  if (format === 'wav' && formats.includes('wav')) {
    const { wavStreamable } = await import('./stream-wav.ts')
    streamable = wavStreamable(head, source)
  } else if (format === 'mp3' && formats.includes('mp3')) {
    const { mp3Streamable } = await import('./stream-mp3.ts')
    streamable = await mp3Streamable(head, source, options.signal)
  } else if (format === 'flac' && formats.includes('flac')) {
    const { flacSeekable } = await import('./stream-flac.ts')
    streamable = await flacSeekable(head, source, options.signal)
  } else if (format === 'ogg-opus' && formats.includes('ogg-opus')) {
    const { opusSeekable } = await import('./stream-opus.ts')
    const { opusStreamable } = await import('./stream-sequential.ts')
    streamable =
      (await opusSeekable(head, source, options.signal)) ??
      (await opusStreamable(head, source, options.signal))
  } else if (format === 'ogg-vorbis' && formats.includes('ogg-vorbis')) {
    const { vorbisStreamable } = await import('./stream-sequential.ts')
    streamable = await vorbisStreamable(head, source, options.signal)
  }
  return streamable === undefined ? undefined : streamDecoded(streamable, { ...options, aheadSec })
}

/** The streaming itself, for any StreamableSource (see the file comment). */
export async function streamDecoded(
  stream: StreamableSource,
  options: StreamSongOptions,
): Promise<DecodedSong | undefined> {
  const srcFrames = stream.frames
  const srcRate = stream.sampleRate
  const outRate = options.outputSampleRate
  const src = Array.from({ length: stream.channels }, () => new Float32Array(srcFrames))
  const outFrames = resampledLength(srcFrames, srcRate, outRate)
  const out = Array.from({ length: stream.channels }, () => new Float32Array(outFrames))
  if (resampleArrived(src[0], 0, 0, srcRate, outRate, out[0]) === undefined) return undefined

  // (A sequential source is decoded from its start anyway: nothing to aim.)
  const ahead = stream.sequential === true ? 0 : (options.aheadSec ?? 0)
  const at = (options.position?.() ?? options.startAt) + ahead
  const wanted = Math.min(srcFrames, Math.max(0, Math.floor((at - (options.backSec ?? 0.25)) * srcRate)))
  // A sequential source fills from its start, in one pass; the audio is there once it passes `wanted`.
  const startFrame = stream.sequential === true ? 0 : wanted
  const startOut = Math.round((startFrame * outRate) / srcRate)
  const wantedOut = Math.round((wanted * outRate) / srcRate)
  const song: DecodedSong = {
    sampleRate: outRate,
    channels: out,
    frames: outFrames,
    sourceSampleRate: srcRate,
    ready: { from: startOut, to: startOut },
  }

  const arrived = (inFrom: number, inTo: number, skipBelow = 0) =>
    src.map((channel, c) => resampleArrived(channel, inFrom, inTo, srcRate, outRate, out[c], skipBelow))[0]

  let firstAudio: (() => void) | undefined
  const leadFrames = (options.leadSec ?? 0.5) * outRate
  const enough = new Promise<void>((resolve) => {
    firstAudio = resolve
  })
  let startedAt = startFrame
  const run = (async () => {
    // From the position to the end first: that is what plays now.
    await stream.fill(
      startFrame,
      srcFrames,
      src,
      (upTo, from) => {
        if (from !== undefined && from > startedAt) startedAt = from
        const r = arrived(startedAt, upTo, song.ready?.to ?? 0)
        if (r !== undefined && song.ready !== undefined) song.ready = { from: r.from, to: r.to }
        if (song.ready !== undefined && song.ready.to - wantedOut >= leadFrames) firstAudio?.()
      },
      options.signal,
    )
    firstAudio?.()
    // Then the beginning (someone may seek back); the song is whole once it is in.
    await stream.fill(0, startedAt, src, () => {}, options.signal)
    arrived(0, srcFrames)
    song.ready = undefined
  })()
  run.then(
    () => options.onDone?.(),
    (err: Error) => {
      firstAudio?.()
      options.onDone?.(err)
    },
  )
  await Promise.race([enough, run])
  options.signal?.throwIfAborted()
  return song
}
