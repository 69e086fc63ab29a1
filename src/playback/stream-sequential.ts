/**
 * Songs that decode only from their first byte on, for ./stream-song.ts:
 * FLAC (frames carry no byte offsets we could seek by) and VBR MP3 (a Xing
 * tag: a position's frame cannot be found from its byte offset). They still
 * play while they arrive — from the start, in order: a member who joins
 * mid-song hears it once everything up to the party's position is in (the
 * swarm fetches a streaming read's pieces first, in reading order), not after
 * the whole download.
 *
 * The song's length must be known before its audio is: it comes from the
 * header — FLAC's STREAMINFO sample count, the Xing frame count with LAME's
 * gapless figures — and is exactly what a whole-file decode gives (tested
 * against it). The bytes go through the same decoders ./decode.ts uses on a
 * whole file, chunk by chunk as they arrive. A file whose header leaves the
 * length open (a FLAC without a sample count, a Xing tag without frames or
 * gapless figures) does not stream. Ogg Opus does not stream yet: its length
 * is the last page's granule position as ogg-opus-decoder trims it, and that
 * rule is the library's own.
 */
import { CorruptAudioError } from './errors.ts'
import type { ByteSource, StreamableSource } from './stream-song.ts'

/** One step of a streaming decoder: planar samples, `samplesDecoded` of them valid. */
interface DecodedChunk {
  channelData: Float32Array[]
  samplesDecoded: number
}

/** A decoder fed the file's bytes in order, in chunks of any size. */
export interface ChunkDecoder {
  decode(chunk: Uint8Array): DecodedChunk | Promise<DecodedChunk>
  /** What it still holds at the end of the file (a FLAC frame ends only where the next begins). */
  flush(): DecodedChunk | Promise<DecodedChunk> | undefined
  free(): void
}

export interface SequentialShape {
  /** For errors: "FLAC", "VBR MP3". */
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
      const decoder = await open()
      let at = 0
      const take = (decoded: DecodedChunk | undefined) => {
        const n = decoded?.samplesDecoded ?? 0
        if (decoded === undefined || n === 0) return
        if (at + n > frames)
          throw new CorruptAudioError(`the ${kind} holds more audio than its ${frames} frames`)
        if (decoded.channelData.length !== channels)
          throw new CorruptAudioError(
            `the ${kind} decodes to ${decoded.channelData.length} channels, not ${channels}`,
          )
        for (let c = 0; c < channels; c++) into[c].set(decoded.channelData[c].subarray(0, n), at)
        at += n
      }
      try {
        for await (const chunk of source.read(0, source.size - 1, signal)) {
          take(await decoder.decode(chunk))
          if (at > 0) progress(Math.min(at, to))
          if (at >= to) return
        }
        take(await decoder.flush())
      } finally {
        decoder.free()
      }
      if (at < to) throw new CorruptAudioError(`the ${kind} ended after ${at} of its ${frames} frames`)
      progress(to)
    },
  }
}

/** STREAMINFO of a FLAC file (the first metadata block, always), or undefined when `head` has none. */
export function readFlacStreamInfo(
  head: Uint8Array,
): { sampleRate: number; channels: number; totalSamples: number } | undefined {
  if (head.length < 8 + 34 || String.fromCharCode(...head.subarray(0, 4)) !== 'fLaC') return undefined
  const type = head[4] & 0x7f
  const length = (head[5] << 16) | (head[6] << 8) | head[7]
  if (type !== 0 || length !== 34) return undefined
  const info = head.subarray(8, 8 + 34)
  const sampleRate = (info[10] << 12) | (info[11] << 4) | (info[12] >> 4)
  const channels = ((info[12] >> 1) & 0x7) + 1
  const totalSamples =
    (info[13] & 0x0f) * 2 ** 32 + new DataView(info.buffer, info.byteOffset).getUint32(14, false)
  return { sampleRate, channels, totalSamples }
}

/** A FLAC whose STREAMINFO gives its sample count, as a sequential streamable source. */
export function flacStreamable(head: Uint8Array, source: ByteSource): StreamableSource | undefined {
  const info = readFlacStreamInfo(head)
  if (info === undefined || info.totalSamples === 0 || info.sampleRate === 0) return undefined
  return sequentialStreamable(
    source,
    { kind: 'FLAC', channels: info.channels, sampleRate: info.sampleRate, frames: info.totalSamples },
    async () => {
      const { FLACDecoder } = await import('@wasm-audio-decoders/flac')
      const decoder = new FLACDecoder()
      await decoder.ready
      return decoder
    },
  )
}
