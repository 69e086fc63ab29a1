/**
 * FLAC for ./stream-song.ts, from any position. Every FLAC frame decodes on
 * its own (no decoder state carries over from the frame before), and its
 * header says which samples it holds — the frame number times the block size,
 * or the sample number itself — under a CRC-8. So the frame holding a
 * position is found from a byte offset: a SEEKTABLE point at or before it, or
 * else the position's share of the audio bytes, stepped back until the first
 * frame found there starts at or before the position. The decoder is handed
 * the file's STREAMINFO and then the bytes from that frame on, and gives
 * exactly the samples a whole-file decode gives from there (tested against
 * it).
 *
 * A header candidate counts as a frame only when its CRC-8 holds and the next
 * frame's header follows with the next samples (or the song ends with it):
 * sync patterns turn up inside compressed audio.
 */
import { CorruptAudioError } from './errors.ts'
import { type ByteSource, bytesAt, type StreamableSource } from './stream-song.ts'

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

interface FlacLayout {
  sampleRate: number
  channels: number
  totalSamples: number
  /** Block size of a fixed-blocksize stream (STREAMINFO's minimum = maximum), else undefined. */
  fixedBlock: number | undefined
  /** Largest frame, bytes (0: unknown). */
  maxFrameBytes: number
  /** The STREAMINFO block alone, marked last, as the decoder's stream header ("fLaC" + block). */
  header: Uint8Array
  /** File offset of the first frame. */
  audioStart: number
  /** SEEKTABLE points (first sample, offset from the first frame), ascending; placeholders dropped. */
  seekPoints: Array<{ sample: number; offset: number }>
}

/** A frame header: the first sample it holds and how many. */
export interface FlacFrameHeader {
  firstSample: number
  blockSize: number
}

function crc8(bytes: Uint8Array): number {
  let crc = 0
  for (const byte of bytes) {
    crc ^= byte
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff
  }
  return crc
}

/** Block size coded in a frame header (code 6/7: read from the header's tail, `explicit`). */
function blockSizeOf(code: number, explicit: number): number | undefined {
  if (code === 1) return 192
  if (code >= 2 && code <= 5) return 576 << (code - 2)
  if (code === 6 || code === 7) return explicit + 1
  if (code >= 8) return 256 << (code - 8)
  return undefined // 0 is reserved
}

/**
 * The frame header at `pos`, or undefined when there is none there (or not
 * enough bytes to tell). `fixedBlock` turns a frame number into samples.
 */
export function parseFlacFrameHeader(
  bytes: Uint8Array,
  pos: number,
  fixedBlock: number | undefined,
): FlacFrameHeader | undefined {
  if (pos + 6 > bytes.length || bytes[pos] !== 0xff || (bytes[pos + 1] & 0xfe) !== 0xf8) return undefined
  const variable = (bytes[pos + 1] & 1) === 1
  const bsCode = bytes[pos + 2] >> 4
  const srCode = bytes[pos + 2] & 0x0f
  const channelCode = bytes[pos + 3] >> 4
  const sizeCode = (bytes[pos + 3] >> 1) & 0x07
  if (bsCode === 0 || srCode === 15 || channelCode > 10 || sizeCode === 3 || (bytes[pos + 3] & 1) !== 0)
    return undefined
  // The frame or sample number, coded as UTF-8 codes characters (up to 7 bytes, 36 bits).
  let at = pos + 4
  const lead = bytes[at]
  let extra = 0
  while (extra < 7 && lead & (0x80 >> extra)) extra++
  // 10xxxxxx is a continuation byte; 7 bytes (11111110) only for sample numbers, never 0xff.
  if (extra === 1 || (extra === 7 && (lead !== 0xfe || !variable))) return undefined
  const length = extra === 0 ? 1 : extra
  // The number, up to 2 + 2 bytes of block size and rate, and the CRC-8.
  if (at + length + 5 > bytes.length) return undefined
  let number = extra === 0 ? lead : lead & (0x7f >> extra)
  for (let i = 1; i < length; i++) {
    const b = bytes[at + i]
    if ((b & 0xc0) !== 0x80) return undefined
    number = number * 64 + (b & 0x3f)
  }
  at += length
  let explicit = 0
  if (bsCode === 6) explicit = bytes[at++]
  else if (bsCode === 7) {
    explicit = (bytes[at] << 8) | bytes[at + 1]
    at += 2
  }
  if (srCode === 12) at += 1
  else if (srCode === 13 || srCode === 14) at += 2
  if (at >= bytes.length || crc8(bytes.subarray(pos, at)) !== bytes[at]) return undefined
  const blockSize = blockSizeOf(bsCode, explicit)
  if (blockSize === undefined) return undefined
  if (!variable && fixedBlock === undefined) return undefined
  return { firstSample: variable ? number : number * fixedBlock!, blockSize }
}

/** How far a frame may reach when STREAMINFO leaves the largest frame unknown (frames are rarely 100 KB). */
const UNKNOWN_MAX_FRAME_BYTES = 1024 * 1024

/** How the next frame must start after `h`: its first sample. */
const nextSample = (h: FlacFrameHeader) => h.firstSample + h.blockSize

/**
 * The first confirmed frame in `buffer`: its header
 * validates and the next frame's header follows with the next samples (or it
 * ends the song). Undefined when the buffer does not hold one yet.
 */
function findFrame(
  buffer: Uint8Array,
  layout: FlacLayout,
  atEnd: boolean,
): { pos: number; header: FlacFrameHeader } | undefined {
  for (let pos = 0; pos + 6 <= buffer.length; pos++) {
    const header = parseFlacFrameHeader(buffer, pos, layout.fixedBlock)
    if (header === undefined || header.firstSample >= layout.totalSamples) continue
    if (nextSample(header) === layout.totalSamples) return { pos, header } // the last frame
    // Its successor starts at least a header's length on; look until the largest frame's end.
    const limit = pos + (layout.maxFrameBytes > 0 ? layout.maxFrameBytes + 16 : UNKNOWN_MAX_FRAME_BYTES)
    let confirmed = false
    let searched = true
    for (let next = pos + 6; next < Math.min(limit, buffer.length); next++) {
      const h = parseFlacFrameHeader(buffer, next, layout.fixedBlock)
      if (h !== undefined && h.firstSample === nextSample(header)) {
        confirmed = true
        break
      }
    }
    if (!confirmed && limit > buffer.length && !atEnd) searched = false
    if (confirmed) return { pos, header }
    if (!searched) return undefined // wait for more bytes before judging this candidate
  }
  return undefined
}

/** The metadata before the audio: STREAMINFO (required), SEEKTABLE (optional), and where the frames begin. */
async function readLayout(
  head: Uint8Array,
  source: ByteSource,
  signal: AbortSignal | undefined,
): Promise<FlacLayout | undefined> {
  const info = readFlacStreamInfo(head)
  if (info === undefined || info.totalSamples === 0) return undefined
  const streamInfo = head.subarray(8, 8 + 34)
  const view = new DataView(streamInfo.buffer, streamInfo.byteOffset, 34)
  const minBlock = view.getUint16(0, false)
  const maxBlock = view.getUint16(2, false)
  const maxFrameBytes = (streamInfo[7] << 16) | (streamInfo[8] << 8) | streamInfo[9]
  const seekPoints: Array<{ sample: number; offset: number }> = []
  let at = 4
  for (let last = false; !last; ) {
    const blockHead = await bytesAt(head, source, at, 4, signal)
    if (blockHead.length < 4) return undefined
    last = (blockHead[0] & 0x80) !== 0
    const type = blockHead[0] & 0x7f
    const length = (blockHead[1] << 16) | (blockHead[2] << 8) | blockHead[3]
    if (type === 3) {
      const table = await bytesAt(head, source, at + 4, length, signal)
      const t = new DataView(table.buffer, table.byteOffset, table.byteLength)
      for (let p = 0; p + 18 <= table.length; p += 18) {
        const sample = Number(t.getBigUint64(p, false))
        if (t.getUint32(p, false) === 0xffffffff && t.getUint32(p + 4, false) === 0xffffffff) continue
        seekPoints.push({ sample, offset: Number(t.getBigUint64(p + 8, false)) })
      }
    }
    at += 4 + length
    if (at > source.size) return undefined
  }
  // The decoder's stream header: "fLaC" and STREAMINFO alone (the last block), its MD5 left unset —
  // a decode that starts mid-file would not match the whole file's.
  const header = new Uint8Array(4 + 4 + 34)
  header.set(head.subarray(0, 8 + 34))
  header[4] = 0x80
  header.fill(0, 8 + 18, 8 + 34)
  return {
    sampleRate: info.sampleRate,
    channels: info.channels,
    totalSamples: info.totalSamples,
    fixedBlock: minBlock === maxBlock ? maxBlock : undefined,
    maxFrameBytes,
    header,
    audioStart: at,
    seekPoints: seekPoints.sort((a, b) => a.sample - b.sample),
  }
}

/** A FLAC that can be decoded from any position, or undefined (no sample count, no STREAMINFO). */
export async function flacSeekable(
  head: Uint8Array,
  source: ByteSource,
  signal?: AbortSignal,
): Promise<StreamableSource | undefined> {
  const read = await readLayout(head, source, signal)
  if (read === undefined || read.sampleRate === 0) return undefined
  const layout: FlacLayout = read
  const { channels, totalSamples, audioStart } = layout
  const audioBytes = source.size - audioStart
  if (audioBytes <= 0) return undefined

  /** A byte offset where a frame at or before `sample` should start to be found. */
  const firstGuess = (sample: number): { offset: number; exact: boolean } => {
    const point = layout.seekPoints.findLast((p) => p.sample <= sample)
    if (point !== undefined && audioStart + point.offset < source.size)
      return { offset: audioStart + point.offset, exact: true }
    return { offset: audioStart + Math.floor((sample / totalSamples) * audioBytes), exact: false }
  }

  return {
    channels,
    sampleRate: layout.sampleRate,
    frames: totalSamples,
    async fill(from, to, into, progress, signal) {
      if (to <= from) return
      const guess = firstGuess(from)
      let margin = guess.exact ? 0 : Math.max(16 * 1024, 2 * layout.maxFrameBytes)
      let offset = Math.max(audioStart, guess.offset - margin)
      for (;;) {
        const outcome = await decodeFrom(offset, from, to, into, progress, signal)
        if (outcome === 'done') return
        // The first frame found there starts after `from`: aim again by the bytes per sample up to that frame
        // (a linear guess, or a seek point, can be far off), with a margin that doubles on every miss.
        if (offset === audioStart) throw new CorruptAudioError('no FLAC frame holds the start of the audio')
        margin = Math.max(2 * margin, 16 * 1024)
        const aimed = audioStart + Math.floor((from / outcome.firstSample) * (outcome.at - audioStart))
        offset = Math.max(audioStart, Math.min(aimed, offset) - margin)
      }
    },
  }

  /** Decode [from, to) starting with the first frame at or after byte `offset`; where that frame is if it starts past `from`. */
  async function decodeFrom(
    offset: number,
    from: number,
    to: number,
    into: Float32Array[],
    progress: (upTo: number) => void,
    signal: AbortSignal | undefined,
  ): Promise<'done' | { at: number; firstSample: number }> {
    const { FLACDecoder } = await import('@wasm-audio-decoders/flac')
    let decoder: InstanceType<typeof FLACDecoder> | undefined
    let sample = 0 // of the next decoded sample
    let upTo = from
    const take = (decoded: { channelData: Float32Array[]; samplesDecoded: number }) => {
      const n = decoded.samplesDecoded
      if (n === 0) return
      if (decoded.channelData.length !== channels)
        throw new CorruptAudioError(
          `the FLAC decodes to ${decoded.channelData.length} channels, not ${channels}`,
        )
      const a = Math.max(from, sample)
      const b = Math.min(to, sample + n, totalSamples)
      for (let c = 0; c < channels && b > a; c++)
        into[c].set(decoded.channelData[c].subarray(a - sample, b - sample), a)
      if (b > upTo) upTo = b
      sample += n
    }
    let buffer: Uint8Array = new Uint8Array(0)
    try {
      for await (const chunk of source.read(offset, source.size - 1, signal)) {
        if (decoder === undefined) {
          buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
          const atEnd = offset + buffer.length >= source.size
          const found = findFrame(buffer, layout, atEnd)
          if (found === undefined) {
            if (buffer.length > Math.max(1024 * 1024, 4 * layout.maxFrameBytes))
              throw new CorruptAudioError(`no FLAC frame within ${buffer.length} bytes of byte ${offset}`)
            continue
          }
          if (found.header.firstSample > from)
            return { at: offset + found.pos, firstSample: found.header.firstSample }
          decoder = new FLACDecoder()
          await decoder.ready
          sample = found.header.firstSample
          take(await decoder.decode(layout.header))
          take(await decoder.decode(buffer.subarray(found.pos)))
        } else take(await decoder.decode(chunk))
        if (upTo > from) progress(upTo)
        if (sample >= to) return 'done'
      }
      if (decoder === undefined) throw new CorruptAudioError(`no FLAC frame after byte ${offset}`)
      take(await decoder.flush())
    } finally {
      decoder?.free()
    }
    if (upTo < to) throw new CorruptAudioError(`the FLAC ended after ${sample} of its ${totalSamples} frames`)
    progress(to)
    return 'done'
  }
}
