/**
 * Songs that decode only from their first byte on, for ./stream-song.ts: VBR
 * MP3 (a Xing tag: a position's frame cannot be found from its byte offset),
 * Ogg Vorbis (where a page's samples start follows from each packet's block
 * size, known only through the setup header's modes: not parsed here, so it
 * is not placed mid-file) and an Ogg Opus whose comment header is longer than
 * 16 MiB (any other Opus starts at the position: ./stream-opus.ts). They still
 * play while they arrive — from the start, in order: a member who joins
 * mid-song hears it once everything up to the party's position is in (the
 * swarm fetches a streaming read's pieces first, in reading order), not after
 * the whole download. The party moves on meanwhile: bytes arriving at k times
 * the song's bitrate catch up with a member who joined t seconds in after
 * t / (k − 1) seconds (a WAV, CBR MP3, FLAC or Opus starts at the position instead).
 *
 * The song's length must be known before its audio is: it comes from the
 * header — the Xing frame count with LAME's gapless figures — or, for Ogg,
 * from its end (the last page's granule position, less Opus's pre-skip), so
 * its last bytes are read first. It is exactly what a whole-file decode
 * gives (tested against it). The bytes go through the same decoders
 * ./decode.ts uses on a whole file, chunk by chunk as they arrive. A file
 * whose header leaves the length open (a Xing tag without frames or gapless
 * figures, no Ogg page near the end) does not stream. Should a header
 * misstate the length after all, the stream ends with an error and the
 * party's song loader completes the song from the whole file
 * (src/party/song-loader.ts).
 */
import { PIECE_SIZE } from '../library/content-id.ts'
import { CorruptAudioError } from './errors.ts'
import { oggPageAt } from './opus-headers.ts'
import { type ByteSource, bytesAt, type StreamableSource } from './stream-song.ts'

/** One step of a streaming decoder: planar samples, `samplesDecoded` of them valid. */
interface DecodedChunk {
  channelData: Float32Array[]
  samplesDecoded: number
}

/** A decoder fed the file's bytes in order, in chunks of any size. */
export interface ChunkDecoder {
  decode(chunk: Uint8Array): DecodedChunk | Promise<DecodedChunk>
  /** What it still holds at the end of the file. */
  flush(): DecodedChunk | Promise<DecodedChunk> | undefined
  free(): void
}

export interface SequentialShape {
  /** For errors: "VBR MP3", "Ogg Opus". */
  kind: string
  channels: number
  sampleRate: number
  /** Source frames in the whole song, from the header. */
  frames: number
}

/** A StreamableSource that decodes `source` from byte 0 on with the decoder `open` makes. */
export function sequentialStreamable(
  source: ByteSource,
  shape: SequentialShape,
  open: () => Promise<ChunkDecoder>,
): StreamableSource {
  const { kind, channels, frames } = shape
  return {
    channels,
    sampleRate: shape.sampleRate,
    frames,
    sequential: true,
    async fill(from, to, into, progress, signal) {
      if (to <= from) return
      if (from !== 0) throw new Error(`a ${kind} streams from its start only`)
      await decodeInto(
        { open, kind, channels, frames, chunks: source.read(0, source.size - 1, signal) },
        {
          firstFrame: 0,
          from,
          to,
          into,
          progress,
          overflow: 'refuse',
        },
      )
    },
  }
}

/** What `decodeInto` decodes: a decoder, the song's shape, and the bytes to feed it. */
export interface DecodeRun {
  open: () => Promise<ChunkDecoder>
  /** For errors: "VBR MP3", "Ogg Opus". */
  kind: string
  channels: number
  /** Source frames in the whole song. */
  frames: number
  /** Fed before `chunks` (headers). */
  prefix?: Uint8Array
  chunks: AsyncIterable<Uint8Array>
}

/**
 * Feed a fresh decoder `prefix`, then `chunks`, and write its output (song
 * frames from `firstFrame` on) into `into`, keeping frames [from, to);
 * `progress(upTo)` once past `from`. Output past the song's length is an
 * error (`refuse`: the header misstated it) or dropped (`drop`: a codec's
 * padding). Stops at `to`; a file that ends sooner is a CorruptAudioError.
 */
export async function decodeInto(
  run: DecodeRun,
  range: {
    firstFrame: number
    from: number
    to: number
    into: Float32Array[]
    progress: (upTo: number) => void
    overflow: 'refuse' | 'drop'
  },
): Promise<void> {
  const { kind, channels, frames } = run
  const { from, to, into, progress } = range
  const decoder = await run.open()
  let at = range.firstFrame
  const take = (decoded: DecodedChunk | undefined) => {
    const n = decoded?.samplesDecoded ?? 0
    if (decoded === undefined || n === 0) return
    if (range.overflow === 'refuse' && at + n > frames)
      throw new CorruptAudioError(`the ${kind} holds more audio than its ${frames} frames`)
    if (decoded.channelData.length !== channels)
      throw new CorruptAudioError(
        `the ${kind} decodes to ${decoded.channelData.length} channels, not ${channels}`,
      )
    // Keep [from, to): audio before `from` (a decoder settling) and past `to` is not wanted here.
    const lo = Math.max(at, from)
    const hi = Math.min(at + n, to)
    for (let c = 0; c < channels && hi > lo; c++)
      into[c].set(decoded.channelData[c].subarray(lo - at, hi - at), lo)
    at += n
    if (at > from) progress(Math.min(at, to))
  }
  try {
    if (run.prefix !== undefined) take(await decoder.decode(run.prefix))
    for await (const chunk of run.chunks) {
      take(await decoder.decode(chunk))
      if (at >= to) return
    }
    take(await decoder.flush())
  } finally {
    decoder.free()
  }
  if (at < to) throw new CorruptAudioError(`the ${kind} ended after ${at} of its ${frames} frames`)
  progress(to)
}

/** Where an Opus stream's last page is looked for: its final bytes (a page is at most ~64 KiB). */
const OGG_TAIL_BYTES = 64 * 1024

/** The identification header of an Ogg Opus file (its first page), or undefined when `head` has none. */
export function readOpusHead(
  head: Uint8Array,
): { serial: number; channels: number; preSkip: number } | undefined {
  if (head.length < 27 || String.fromCharCode(...head.subarray(0, 4)) !== 'OggS') return undefined
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength)
  const segments = head[26]
  const at = 27 + segments
  if (head.length < at + 19 || String.fromCharCode(...head.subarray(at, at + 8)) !== 'OpusHead')
    return undefined
  return { serial: view.getUint32(14, true), channels: head[at + 9], preSkip: view.getUint16(at + 10, true) }
}

/** The largest granule position among the pages of stream `serial` that start in `tail`, or undefined. */
export function lastGranule(tail: Uint8Array, serial: number): number | undefined {
  let last: number | undefined
  for (let at = 0; at + 27 <= tail.length; at++) {
    const granule = oggPageAt(tail, at, serial)?.granule ?? -1
    if (granule >= 0) last = Math.max(last ?? 0, granule)
  }
  return last
}

/** The identification header of an Ogg Vorbis file (its first page), or undefined when `head` has none. */
export function readVorbisHead(
  head: Uint8Array,
): { serial: number; channels: number; sampleRate: number } | undefined {
  if (head.length < 27 || String.fromCharCode(...head.subarray(0, 4)) !== 'OggS') return undefined
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength)
  const at = 27 + head[26]
  // Packet type 1, "vorbis", version 0 (u32), channels (u8), sample rate (u32).
  if (head.length < at + 16 || head[at] !== 0x01) return undefined
  if (String.fromCharCode(...head.subarray(at + 1, at + 7)) !== 'vorbis') return undefined
  if (view.getUint32(at + 7, true) !== 0) return undefined
  return {
    serial: view.getUint32(14, true),
    channels: head[at + 11],
    sampleRate: view.getUint32(at + 12, true),
  }
}

interface OggStream {
  kind: string
  serial: number
  channels: number
  sampleRate: number
  /** Samples the decoder drops at the start (Opus's pre-skip; 0 for Vorbis, whose granules count samples). */
  preSkip: number
}

/** The granule position of stream `serial`'s last page, from the file's final bytes (read first). */
export async function endGranule(
  head: Uint8Array,
  source: ByteSource,
  serial: number,
  signal?: AbortSignal,
): Promise<number | undefined> {
  // The file's last piece first: through the swarm that is one piece, where its last 64 KiB are
  // usually two. The last page starts there unless the piece is shorter than it; then the file's
  // last 64 KiB (an Ogg page is at most ~64 KiB).
  const lastPiece = Math.floor(Math.max(0, source.size - 1) / PIECE_SIZE) * PIECE_SIZE
  const inLastPiece = lastGranule(
    await bytesAt(head, source, lastPiece, source.size - lastPiece, signal),
    serial,
  )
  if (inLastPiece !== undefined || lastPiece === 0) return inLastPiece
  const tailStart = Math.max(0, source.size - OGG_TAIL_BYTES)
  return lastGranule(await bytesAt(head, source, tailStart, source.size - tailStart, signal), serial)
}

/** A fresh ogg-opus-decoder (it gives the header's channels, always at 48 kHz). */
export async function openOpusDecoder(): Promise<ChunkDecoder> {
  const { OggOpusDecoder } = await import('ogg-opus-decoder')
  const decoder = new OggOpusDecoder()
  await decoder.ready
  return decoder
}

/**
 * An Ogg stream as a sequential streamable source. Its length is the granule
 * position of its last page, less the pre-skip: the file's final bytes are
 * read first. Undefined when no page of the stream is found there.
 */
async function oggStreamable(
  head: Uint8Array,
  source: ByteSource,
  stream: OggStream,
  open: () => Promise<ChunkDecoder>,
  signal?: AbortSignal,
): Promise<StreamableSource | undefined> {
  if (stream.channels === 0 || stream.sampleRate === 0) return undefined
  const granule = await endGranule(head, source, stream.serial, signal)
  if (granule === undefined || granule <= stream.preSkip) return undefined
  const { kind, channels, sampleRate } = stream
  return sequentialStreamable(source, { kind, channels, sampleRate, frames: granule - stream.preSkip }, open)
}

/** An Ogg Opus file as a sequential streamable source. */
export async function opusStreamable(
  head: Uint8Array,
  source: ByteSource,
  signal?: AbortSignal,
): Promise<StreamableSource | undefined> {
  const info = readOpusHead(head)
  if (info === undefined) return undefined
  return oggStreamable(
    head,
    source,
    { kind: 'Ogg Opus', ...info, sampleRate: 48_000 },
    openOpusDecoder,
    signal,
  )
}

/** An Ogg Vorbis file as a sequential streamable source. */
export async function vorbisStreamable(
  head: Uint8Array,
  source: ByteSource,
  signal?: AbortSignal,
): Promise<StreamableSource | undefined> {
  const info = readVorbisHead(head)
  if (info === undefined) return undefined
  const open = async () => {
    const { OggVorbisDecoder } = await import('@wasm-audio-decoders/ogg-vorbis')
    const decoder = new OggVorbisDecoder()
    await decoder.ready
    return decoder
  }
  return oggStreamable(head, source, { kind: 'Ogg Vorbis', ...info, preSkip: 0 }, open, signal)
}
