/**
 * The LAME/Xing "Info" frame of a CBR MP3: a silent first frame that tells a
 * decoder how many samples the encoder added at the start (encoder delay) and
 * the end (padding), so the decoded audio starts and ends exactly where the
 * source did. mpg123 (our decoder) and browsers honour it; without it an MP3
 * plays ~23 ms late (LAME's 576-sample delay plus the decoder's 529).
 *
 * Pure: bytes in, bytes out. `withLameInfoFrame` is for encoders that cannot
 * write the tag themselves (lamejs); `readLameGapless` reads it back.
 */

const SAMPLE_RATES: Record<number, number[]> = {
  3: [44_100, 48_000, 32_000], // MPEG-1
  2: [22_050, 24_000, 16_000], // MPEG-2
  0: [11_025, 12_000, 8_000], // MPEG-2.5
}
const BITRATES_V1_L3 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
const BITRATES_V2_L3 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
/** Layer III decoder delay (samples), added by every decoder on top of the encoder's. */
export const MP3_DECODER_DELAY = 529

export interface Mp3FrameHeader {
  /** Offset of the frame in the buffer. */
  offset: number
  version: 1 | 2 | 2.5
  sampleRate: number
  bitrateKbps: number
  mono: boolean
  /** Bytes in this frame (without the padding slot when `padded` is false). */
  frameBytes: number
  samplesPerFrame: number
  /** Bytes of Layer III side information after the 4-byte header. */
  sideInfoBytes: number
}

export interface LameGapless {
  encoderDelay: number
  padding: number
  /** Audio frames after the Info frame, when the tag says. */
  frames?: number
}

/** Past an ID3v2 tag (if any): where the MPEG frames start. */
export function skipId3v2(bytes: Uint8Array): number {
  if (bytes.length < 10 || bytes[0] !== 0x49 || bytes[1] !== 0x44 || bytes[2] !== 0x33) return 0
  const size =
    ((bytes[6] & 0x7f) << 21) | ((bytes[7] & 0x7f) << 14) | ((bytes[8] & 0x7f) << 7) | (bytes[9] & 0x7f)
  const footer = (bytes[5] & 0x10) !== 0 ? 10 : 0
  return 10 + size + footer
}

/** The Layer III frame header at `offset`, or undefined when there is none. */
export function parseMp3FrameHeader(bytes: Uint8Array, offset: number): Mp3FrameHeader | undefined {
  if (offset + 4 > bytes.length || bytes[offset] !== 0xff || (bytes[offset + 1] & 0xe0) !== 0xe0)
    return undefined
  const versionBits = (bytes[offset + 1] >> 3) & 0x3
  const layerBits = (bytes[offset + 1] >> 1) & 0x3
  if (versionBits === 1 || layerBits !== 1) return undefined // reserved version, or not Layer III
  const bitrateIndex = bytes[offset + 2] >> 4
  const rateIndex = (bytes[offset + 2] >> 2) & 0x3
  if (bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return undefined
  const v1 = versionBits === 3
  const sampleRate = SAMPLE_RATES[versionBits][rateIndex]
  const bitrateKbps = (v1 ? BITRATES_V1_L3 : BITRATES_V2_L3)[bitrateIndex]
  const padded = ((bytes[offset + 2] >> 1) & 1) === 1
  const mono = bytes[offset + 3] >> 6 === 3
  const samplesPerFrame = v1 ? 1152 : 576
  const frameBytes = Math.floor(((samplesPerFrame / 8) * bitrateKbps * 1000) / sampleRate) + (padded ? 1 : 0)
  const sideInfoBytes = v1 ? (mono ? 17 : 32) : mono ? 9 : 17
  return {
    offset,
    version: v1 ? 1 : versionBits === 2 ? 2 : 2.5,
    sampleRate,
    bitrateKbps,
    mono,
    frameBytes,
    samplesPerFrame,
    sideInfoBytes,
  }
}

/** CRC-16/ARC (poly 0x8005 reflected, init 0), as the LAME tag uses. */
function crc16(bytes: Uint8Array): number {
  let crc = 0
  for (const b of bytes) {
    crc ^= b
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1
  }
  return crc & 0xffff
}

/**
 * Prepends an Info frame with a LAME tag to a CBR Layer III stream (after its
 * ID3v2 tag, if any) saying `encoderDelay` samples at the start and enough
 * padding at the end that exactly `sourceSamples` samples remain.
 */
export function withLameInfoFrame(
  mp3: Uint8Array,
  options: { encoderDelay: number; sourceSamples: number },
): Uint8Array {
  const start = skipId3v2(mp3)
  const first = parseMp3FrameHeader(mp3, start)
  if (first === undefined) throw new Error('no MPEG Layer III frame at the start of the stream')
  // Count the audio frames (CBR: every frame has the same header but the padding bit).
  let frames = 0
  for (let at = start; at < mp3.length; ) {
    const h = parseMp3FrameHeader(mp3, at)
    if (h === undefined) break
    frames += 1
    at += h.frameBytes
  }
  const padding = frames * first.samplesPerFrame - options.encoderDelay - options.sourceSamples
  if (options.encoderDelay < 0 || options.encoderDelay > 0xfff || padding < 0 || padding > 0xfff) {
    throw new Error(`delay ${options.encoderDelay} / padding ${padding} do not fit a LAME tag`)
  }
  // The Info frame: the first frame's header without the padding bit (and, if the tag would not
  // fit, a higher bitrate index, as LAME does), zero side information, then the tag.
  const needed = 4 + first.sideInfoBytes + 120 + 36
  // A copy (a Buffer's slice() would be a view, and the edits below would rewrite the caller's first frame).
  const header = Uint8Array.from(mp3.subarray(start, start + 4))
  header[2] &= ~0x02
  let infoBytes = 0
  for (let index = header[2] >> 4; index < 15; index++) {
    header[2] = (index << 4) | (header[2] & 0x0f)
    infoBytes = parseMp3FrameHeader(header, 0)?.frameBytes ?? 0
    if (infoBytes >= needed) break
  }
  if (infoBytes < needed) throw new Error('no bitrate makes a frame large enough for the LAME tag')
  const info = new Uint8Array(infoBytes)
  info.set(header)
  const view = new DataView(info.buffer)
  let o = 4 + first.sideInfoBytes
  info.set(new TextEncoder().encode('Info'), o)
  view.setUint32(o + 4, 0x0f, false) // frames, bytes, TOC and quality present
  view.setUint32(o + 8, frames, false)
  view.setUint32(o + 12, mp3.length - start + info.length, false)
  for (let i = 0; i < 100; i++) info[o + 16 + i] = Math.floor((i * 256) / 100) // CBR: a linear seek table
  view.setUint32(o + 116, 0, false)
  o += 120
  info.set(new TextEncoder().encode('LAME3.100'), o)
  info[o + 9] = 0x01 // tag revision 0, CBR
  info[o + 21] = options.encoderDelay >> 4
  info[o + 22] = ((options.encoderDelay & 0xf) << 4) | (padding >> 8)
  info[o + 23] = padding & 0xff
  view.setUint32(o + 28, mp3.length - start + info.length, false) // music length
  view.setUint16(o + 34, crc16(info.subarray(0, o + 34)), false)
  const out = new Uint8Array(mp3.length + info.length)
  out.set(mp3.subarray(0, start))
  out.set(info, start)
  out.set(mp3.subarray(start), start + info.length)
  return out
}

/** The gapless figures of an MP3's LAME/Xing tag, or undefined when it has none. */
export function readLameGapless(bytes: Uint8Array): LameGapless | undefined {
  const start = skipId3v2(bytes)
  const h = parseMp3FrameHeader(bytes, start)
  if (h === undefined) return undefined
  const o = start + 4 + h.sideInfoBytes
  const tag = String.fromCharCode(...bytes.subarray(o, o + 4))
  if (tag !== 'Xing' && tag !== 'Info') return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const flags = view.getUint32(o + 4, false)
  let at = o + 8
  let frames: number | undefined
  if (flags & 0x1) {
    frames = view.getUint32(at, false)
    at += 4
  }
  if (flags & 0x2) at += 4
  if (flags & 0x4) at += 100
  if (flags & 0x8) at += 4
  if (at + 24 > bytes.length) return undefined
  const encoder = String.fromCharCode(...bytes.subarray(at, at + 4))
  if (encoder !== 'LAME' && encoder !== 'Lavf' && encoder !== 'Lavc') return undefined
  const encoderDelay = (bytes[at + 21] << 4) | (bytes[at + 22] >> 4)
  const padding = ((bytes[at + 22] & 0x0f) << 8) | bytes[at + 23]
  return { encoderDelay, padding, frames }
}
