/**
 * Decode a song file to planar Float32 PCM at the output rate (48 kHz by
 * default): MP3 (mpg123-decoder), FLAC (@wasm-audio-decoders/flac), Ogg Opus
 * (ogg-opus-decoder), Ogg Vorbis (@wasm-audio-decoders/ogg-vorbis), WAV (by
 * hand, ./wav.ts). AAC/M4A is not among them: the one wasm AAC decoder (FAAD2)
 * is GPL, and Tutti is MIT; a browser speaker decodes it itself. Other rates go through the
 * windowed-sinc resampler in ./resample.ts. The format is sniffed from the
 * bytes, never trusted from a file name. The wasm decoders are imported on
 * first use: an idle node that never plays a party song does not carry them
 * (several MB of RSS each; bench:scan measures the idle node).
 */
import { readFile } from 'node:fs/promises'
import { CorruptAudioError, UnsupportedAudioError } from './errors.ts'
import { withDecoderHeaders } from './opus-headers.ts'
import { resampleChannels } from './resample.ts'
import { isWav, parseWav } from './wav.ts'

export const OUTPUT_SAMPLE_RATE = 48_000

export interface DecodedSong {
  /** Always the requested output rate. */
  sampleRate: number
  /** Planar channels (1 or more), equal lengths. */
  channels: Float32Array[]
  /** Frames per channel. */
  frames: number
  /** Rate of the file before resampling. */
  sourceSampleRate: number
  /**
   * A song still arriving (streamed from the swarm): only frames in
   * [from, to) hold audio so far; the range grows as bytes arrive. Absent:
   * the whole song is there.
   */
  ready?: { from: number; to: number }
}

/** Does frame `pos` of `song` hold audio yet? */
export function frameReady(song: DecodedSong, pos: number): boolean {
  return song.ready === undefined || (pos >= song.ready.from && pos < song.ready.to)
}

export type AudioFormat = 'wav' | 'mp3' | 'flac' | 'ogg-opus' | 'ogg-vorbis' | 'ogg-other'

export interface DecodeOptions {
  outputSampleRate?: number
  signal?: AbortSignal
}

/** Sniff the container from magic bytes. */
export function detectFormat(bytes: Uint8Array): AudioFormat | undefined {
  const text = (at: number, n: number) => String.fromCharCode(...bytes.subarray(at, at + n))
  if (isWav(bytes)) return 'wav'
  if (text(0, 4) === 'fLaC') return 'flac'
  if (text(0, 4) === 'OggS') {
    // The first page holds the codec's identification header alone (a 1-byte segment table, so it starts at 28).
    if (text(28, 8) === 'OpusHead') return 'ogg-opus'
    if (bytes[28] === 0x01 && text(29, 6) === 'vorbis') return 'ogg-vorbis'
    return 'ogg-other'
  }
  if (text(0, 3) === 'ID3') return 'mp3'
  // Bare MPEG audio frame sync: 11 set bits, layer bits not "reserved".
  if (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0 && (bytes[1] & 0x06) !== 0)
    return 'mp3'
  return undefined
}

export async function decodeAudio(bytes: Uint8Array, options: DecodeOptions = {}): Promise<DecodedSong> {
  const outputRate = options.outputSampleRate ?? OUTPUT_SAMPLE_RATE
  options.signal?.throwIfAborted()
  const format = detectFormat(bytes)
  let decoded: { sampleRate: number; channels: Float32Array[] }
  switch (format) {
    case 'wav':
      decoded = parseWav(bytes)
      break
    case 'mp3':
      decoded = await decodeMp3(bytes)
      break
    case 'flac':
      decoded = await decodeFlac(bytes)
      break
    case 'ogg-opus':
      decoded = await decodeOpus(bytes)
      break
    case 'ogg-vorbis':
      decoded = await decodeVorbis(bytes)
      break
    case 'ogg-other':
      throw new UnsupportedAudioError('an Ogg stream with neither Opus nor Vorbis in it is not supported')
    default:
      throw new UnsupportedAudioError('unknown audio format')
  }
  options.signal?.throwIfAborted()
  if (decoded.channels.length === 0 || decoded.channels[0].length === 0) {
    throw new CorruptAudioError(`${format} file decoded to no audio`)
  }
  const channels =
    decoded.sampleRate === outputRate
      ? decoded.channels
      : resampleChannels(decoded.channels, decoded.sampleRate, outputRate)
  return {
    sampleRate: outputRate,
    channels,
    frames: channels[0].length,
    sourceSampleRate: decoded.sampleRate,
  }
}

export async function decodeAudioFile(path: string, options: DecodeOptions = {}): Promise<DecodedSong> {
  const bytes = await readFile(path, { signal: options.signal })
  return decodeAudio(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), options)
}

function checked(
  kind: string,
  result: { channelData: Float32Array[]; samplesDecoded: number; sampleRate: number; errors: unknown[] },
) {
  if (result.samplesDecoded === 0 && result.errors.length > 0) {
    throw new CorruptAudioError(
      `${kind}: ${String((result.errors[0] as { message?: string }).message ?? 'decode error')}`,
    )
  }
  // Decoders may hand back longer backing arrays; cut to what was decoded (copy: the wasm heap is freed).
  return {
    sampleRate: result.sampleRate,
    channels: result.channelData.map((c) => c.slice(0, result.samplesDecoded)),
  }
}

async function decodeMp3(bytes: Uint8Array) {
  const { MPEGDecoder } = await import('mpg123-decoder')
  const decoder = new MPEGDecoder()
  await decoder.ready
  try {
    return checked('mp3', decoder.decode(bytes))
  } finally {
    decoder.free()
  }
}

interface FileDecoder {
  ready: Promise<void>
  decodeFile(
    bytes: Uint8Array,
  ): Promise<{ channelData: Float32Array[]; samplesDecoded: number; sampleRate: number; errors: unknown[] }>
  free(): void
}

/** A whole file through one of the wasm-audio-decoders (same interface for each), freed after. */
async function decodeWith(kind: string, bytes: Uint8Array, make: () => Promise<FileDecoder>) {
  const decoder = await make()
  await decoder.ready
  try {
    return checked(kind, await decoder.decodeFile(bytes))
  } finally {
    decoder.free()
  }
}

function decodeFlac(bytes: Uint8Array) {
  return decodeWith('flac', bytes, async () => new (await import('@wasm-audio-decoders/flac')).FLACDecoder())
}

function decodeOpus(bytes: Uint8Array) {
  // Comment pages replaced by one empty one: the decoder takes a comment packet spanning pages for audio.
  return decodeWith(
    'opus',
    withDecoderHeaders(bytes),
    async () => new (await import('ogg-opus-decoder')).OggOpusDecoder(),
  )
}

function decodeVorbis(bytes: Uint8Array) {
  return decodeWith(
    'vorbis',
    bytes,
    async () => new (await import('@wasm-audio-decoders/ogg-vorbis')).OggVorbisDecoder(),
  )
}
