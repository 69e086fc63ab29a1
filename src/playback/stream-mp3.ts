/**
 * Constant-bitrate MP3 for ./stream-song.ts. Every Layer III frame holds
 * `samplesPerFrame` samples and, at a constant bitrate, frame k starts within
 * a byte of `k × bytesPerFrame` (the encoder spreads the padding bytes so),
 * so the frame holding any position is found from its byte offset alone, and
 * its index — hence the exact sample position of what it decodes to — from
 * where its header is.
 *
 * A frame's audio also depends on the frames before it (its main data may
 * start up to 511 bytes back, in the bit reservoir, and its first granule
 * overlaps the previous one), so decoding starts a few frames early and their
 * output is thrown away; from the first kept frame on, the samples are those
 * of a whole-file decode (tested against it).
 *
 * Positions follow the whole-file decode (./decode.ts, mpg123): with a LAME
 * or Lavf tag in an Info frame, output sample 0 is raw decoder sample
 * `encoderDelay + 529` and the song ends `padding` samples before the last
 * frame does; without a tag, nothing is trimmed (and the frame count is
 * estimated from the file size). Info frames without gapless figures, and
 * bitrates that change without a Xing tag, do not stream; a VBR file (a Xing
 * tag with its frame count and gapless figures) streams from its start
 * (./stream-sequential.ts).
 */
import { CorruptAudioError } from './errors.ts'
import {
  MP3_DECODER_DELAY,
  type Mp3FrameHeader,
  parseMp3FrameHeader,
  readLameGapless,
  skipId3v2,
} from './mp3-info.ts'
import { sequentialStreamable } from './stream-sequential.ts'
import { type ByteSource, bytesAt, type StreamableSource } from './stream-song.ts'

/** Largest reach of a frame's main data into earlier frames (main_data_begin is 9 bits). */
const MAX_RESERVOIR_BYTES = 511

/** Frames decoded and thrown away before the first kept one: the reservoir of the frame before it, and that frame. */
export function prerollFrames(frameBytes: number): number {
  return Math.ceil(MAX_RESERVOIR_BYTES / frameBytes) + 2
}

/** Same stream parameters (a CBR file's frames differ only in the padding bit). */
function sameStream(a: Mp3FrameHeader, b: Mp3FrameHeader): boolean {
  return (
    a.version === b.version &&
    a.sampleRate === b.sampleRate &&
    a.bitrateKbps === b.bitrateKbps &&
    a.mono === b.mono
  )
}

/** The CBR MP3 behind `head` (its first bytes) as a streamable source, or undefined when it cannot stream. */
export async function mp3Streamable(
  head: Uint8Array,
  source: ByteSource,
  signal?: AbortSignal,
): Promise<StreamableSource | undefined> {
  // A large ID3v2 tag (cover art) may push the first frame past the head.
  const firstAt = skipId3v2(head)
  const firstBytes = await bytesAt(head, source, firstAt, 4096, signal)
  const first = parseMp3FrameHeader(firstBytes, 0)
  if (first === undefined) return undefined
  const tagAt = 4 + first.sideInfoBytes
  const tag = String.fromCharCode(...firstBytes.subarray(tagAt, tagAt + 4))
  // VBR: a position's frame cannot be found from its byte offset, so it streams from the start.
  if (tag === 'Xing') return vbrStreamable(firstBytes, first, source)
  const tagged = tag === 'Info'
  const gapless = tagged ? readLameGapless(firstBytes) : undefined
  if (tagged && gapless === undefined) return undefined // mpg123's trimming is not known here
  const audioStart = firstAt + (tagged ? first.frameBytes : 0)
  const h0 = tagged ? parseMp3FrameHeader(await bytesAt(head, source, audioStart, 4, signal), 0) : first
  if (h0 === undefined) return undefined
  const spf = h0.samplesPerFrame
  const bytesPerFrame = (spf / 8) * ((h0.bitrateKbps * 1000) / h0.sampleRate)
  const frameCount = gapless?.frames ?? Math.floor((source.size - audioStart) / bytesPerFrame)
  const trim = gapless === undefined ? 0 : gapless.encoderDelay + MP3_DECODER_DELAY
  const frames = frameCount * spf - (gapless === undefined ? 0 : gapless.encoderDelay + gapless.padding)
  if (frameCount <= 0 || frames <= 0) return undefined
  // mpg123-decoder hands back two channels for mono streams too; so does the whole-file decode.
  const channels = 2
  const preroll = prerollFrames(h0.frameBytes)

  return {
    channels,
    sampleRate: h0.sampleRate,
    frames,
    async fill(from, to, into, progress, fillSignal) {
      if (to <= from) return
      const rawFrom = from + trim
      const rawTo = to + trim
      const kFirst = Math.floor(rawFrom / spf)
      const kLast = Math.min(frameCount - 1, Math.floor((rawTo - 1) / spf))
      // Near the start, decode from the first frame (nothing to throw away); else `preroll` frames early.
      const kStart = kFirst <= preroll ? 0 : kFirst - preroll
      const keepFrom = kStart === 0 ? 0 : kFirst
      // A few bytes early (frame starts are within a byte of k × bytesPerFrame); the header search finds it.
      const byteStart = kStart === 0 ? audioStart : audioStart + Math.floor(kStart * bytesPerFrame) - 4
      const byteEnd =
        kLast >= frameCount - 1
          ? source.size - 1
          : Math.min(source.size - 1, audioStart + Math.ceil((kLast + 1) * bytesPerFrame) + 8)

      const { MPEGDecoder } = await import('mpg123-decoder')
      const decoder = new MPEGDecoder()
      await decoder.ready
      try {
        let buffer: Uint8Array = new Uint8Array(0)
        let bufferAt = byteStart // file offset of buffer[0]
        let pos = 0
        let k: number | undefined // index of the frame at `pos`
        let upTo = from
        const keep = (frame: number, decoded: Float32Array[]) => {
          const rawStart = frame * spf
          const a = Math.max(rawFrom, rawStart)
          const b = Math.min(rawTo, rawStart + spf)
          for (let c = 0; c < channels; c++) {
            const channel = decoded[Math.min(c, decoded.length - 1)] // (one, should a decoder give one for mono)
            into[c].set(channel.subarray(a - rawStart, b - rawStart), a - trim)
          }
          if (b > a) upTo = b - trim
        }
        reading: for await (const chunk of source.read(byteStart, byteEnd, fillSignal)) {
          buffer = buffer.length === pos ? chunk : Buffer.concat([buffer.subarray(pos), chunk])
          bufferAt += pos
          pos = 0
          if (k === undefined) {
            const found = syncFrame(buffer, bufferAt, audioStart, bytesPerFrame, h0)
            if (found === undefined) {
              if (buffer.length > 4 * h0.frameBytes + 64)
                throw new CorruptAudioError('no MP3 frame where one was due')
              continue
            }
            pos = found.pos
            k = found.index
          }
          for (;;) {
            if (k > kLast) break reading
            const h = parseMp3FrameHeader(buffer, pos)
            if (h === undefined) {
              if (pos + 4 <= buffer.length) {
                if (gapless === undefined) break reading // no tag: a trailing tag ends the audio
                throw new CorruptAudioError(`no MP3 frame at byte ${bufferAt + pos}`)
              }
              break
            }
            if (!sameStream(h, h0))
              throw new CorruptAudioError('the MP3 bitrate changes: not constant bitrate')
            if (pos + h.frameBytes > buffer.length) break
            const decoded = decoder.decodeFrame(buffer.subarray(pos, pos + h.frameBytes))
            if (decoded.samplesDecoded !== spf)
              throw new CorruptAudioError(`MP3 frame ${k} decoded to ${decoded.samplesDecoded} samples`)
            if (k >= keepFrom) keep(k, decoded.channelData)
            pos += h.frameBytes
            k += 1
          }
          if (upTo > from) progress(upTo)
        }
        if ((k ?? 0) <= kLast && gapless !== undefined) throw new CorruptAudioError('the MP3 ended early')
        if (upTo > from) progress(upTo)
      } finally {
        decoder.free()
      }
    },
  }
}

/**
 * A VBR MP3 (its first frame a Xing tag) as a sequential source, when the tag
 * gives the frame count and LAME's gapless figures: then its length is known
 * (trimmed as for a CBR file's Info frame, above). Otherwise undefined.
 */
function vbrStreamable(
  tagFrame: Uint8Array,
  first: Mp3FrameHeader,
  source: ByteSource,
): StreamableSource | undefined {
  const gapless = readLameGapless(tagFrame)
  if (gapless?.frames === undefined) return undefined
  const frames = gapless.frames * first.samplesPerFrame - gapless.encoderDelay - gapless.padding
  if (frames <= 0) return undefined
  // mpg123-decoder hands back two channels for mono streams too, as in the whole-file decode.
  const shape = { kind: 'VBR MP3', channels: 2, sampleRate: first.sampleRate, frames }
  return sequentialStreamable(source, shape, async () => {
    const { MPEGDecoder } = await import('mpg123-decoder')
    const decoder = new MPEGDecoder()
    await decoder.ready
    // A frame decodes once all its bytes are in: nothing is left over at the end.
    return { decode: (chunk) => decoder.decode(chunk), flush: () => undefined, free: () => decoder.free() }
  })
}

/**
 * The first frame header in `buffer` (file offset `bufferAt`) that lies where
 * a frame of this CBR stream is due (within two bytes of k × bytesPerFrame)
 * and is followed by another one: its position and index. Undefined when
 * the buffer does not hold one yet.
 */
function syncFrame(
  buffer: Uint8Array,
  bufferAt: number,
  audioStart: number,
  bytesPerFrame: number,
  h0: Mp3FrameHeader,
): { pos: number; index: number } | undefined {
  for (let pos = 0; pos + 4 <= buffer.length; pos++) {
    const h = parseMp3FrameHeader(buffer, pos)
    if (h === undefined || !sameStream(h, h0)) continue
    const index = Math.round((bufferAt + pos - audioStart) / bytesPerFrame)
    if (Math.abs(bufferAt + pos - audioStart - index * bytesPerFrame) > 2) continue
    const next = pos + h.frameBytes
    if (next + 4 > buffer.length) return undefined // wait for the next header to confirm
    const h2 = parseMp3FrameHeader(buffer, next)
    if (h2 !== undefined && sameStream(h2, h0)) return { pos, index }
  }
  return undefined
}
