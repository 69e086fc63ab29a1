/**
 * WAV (RIFF) reading and header writing, by hand (pure, browser-safe).
 * Reads PCM 8-bit (unsigned), 16/24/32-bit signed, IEEE float 32/64, plain or
 * WAVE_FORMAT_EXTENSIBLE. Writes 16-bit PCM headers (with optional extra
 * chunks) for the headless player's recordings.
 */
import { CorruptAudioError, UnsupportedAudioError } from './errors.ts'

export interface PcmAudio {
  sampleRate: number
  /** Planar: one Float32Array per channel, samples in [-1, 1]. */
  channels: Float32Array[]
}

const FORMAT_PCM = 1
const FORMAT_FLOAT = 3
const FORMAT_EXTENSIBLE = 0xfffe

function ascii(bytes: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + length))
}

export function isWav(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WAVE'
}

/** Every chunk of a RIFF/WAVE file: id and the byte range of its body. */
export function wavChunks(bytes: Uint8Array): Array<{ id: string; start: number; size: number }> {
  if (!isWav(bytes)) throw new UnsupportedAudioError('not a RIFF/WAVE file')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const chunks: Array<{ id: string; start: number; size: number }> = []
  let at = 12
  while (at + 8 <= bytes.length) {
    const id = ascii(bytes, at, 4)
    let size = view.getUint32(at + 4, true)
    // A streamed file may leave the data size at 0 or 0xFFFFFFFF: take what is there.
    if (id === 'data' && (size === 0 || at + 8 + size > bytes.length)) size = bytes.length - at - 8
    if (at + 8 + size > bytes.length) throw new CorruptAudioError(`WAV truncated inside its ${id} chunk`)
    chunks.push({ id, start: at + 8, size })
    at += 8 + size + (size % 2)
  }
  return chunks
}

export function parseWav(bytes: Uint8Array): PcmAudio {
  const chunks = wavChunks(bytes)
  const fmt = chunks.find((c) => c.id === 'fmt ')
  const data = chunks.find((c) => c.id === 'data')
  if (fmt === undefined || data === undefined) throw new CorruptAudioError('WAV without fmt or data chunk')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const format = parseFmt(view, fmt)
  const frames = Math.floor(data.size / format.blockAlign)
  const channels = Array.from({ length: format.channels }, () => new Float32Array(frames))
  decodeWavFrames(bytes.subarray(data.start, data.start + frames * format.blockAlign), format, channels, 0)
  return { sampleRate: format.sampleRate, channels }
}

export interface WavFormat {
  format: number
  channels: number
  sampleRate: number
  blockAlign: number
  bits: number
}

function parseFmt(view: DataView, fmt: { start: number; size: number }): WavFormat {
  if (fmt.size < 16) throw new CorruptAudioError('WAV with a short fmt chunk')
  let format = view.getUint16(fmt.start, true)
  const channels = view.getUint16(fmt.start + 2, true)
  const sampleRate = view.getUint32(fmt.start + 4, true)
  const blockAlign = view.getUint16(fmt.start + 12, true)
  const bits = view.getUint16(fmt.start + 14, true)
  if (format === FORMAT_EXTENSIBLE) {
    if (fmt.size < 40) throw new CorruptAudioError('WAVE_FORMAT_EXTENSIBLE with a short fmt chunk')
    format = view.getUint16(fmt.start + 24, true) // first two bytes of the sub-format GUID
  }
  if (channels === 0 || sampleRate === 0) throw new CorruptAudioError('WAV with zero channels or sample rate')
  const bytesPerSample = bits / 8
  if (!Number.isInteger(bytesPerSample) || blockAlign < channels * bytesPerSample) {
    throw new CorruptAudioError(`WAV with ${bits}-bit samples and block align ${blockAlign}`)
  }
  sampleReader(view, format, bits) // refuses formats we cannot read, now rather than mid-stream
  return { format, channels, sampleRate, blockAlign, bits }
}

/**
 * Where a WAV's samples are, from its first bytes only (for streaming: the
 * rest may not have arrived). `fileSize` bounds a data chunk whose declared
 * size is missing or too large. Throws when the head does not reach the data chunk.
 */
export function wavLayout(
  head: Uint8Array,
  fileSize: number,
): WavFormat & { dataStart: number; dataBytes: number } {
  if (!isWav(head)) throw new UnsupportedAudioError('not a RIFF/WAVE file')
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength)
  let format: WavFormat | undefined
  let at = 12
  while (at + 8 <= head.length) {
    const id = ascii(head, at, 4)
    const size = view.getUint32(at + 4, true)
    if (id === 'data') {
      if (format === undefined) throw new CorruptAudioError('WAV data chunk before its fmt chunk')
      const available = fileSize - (at + 8)
      const dataBytes = size === 0 || size > available ? available : size
      return { ...format, dataStart: at + 8, dataBytes: dataBytes - (dataBytes % format.blockAlign) }
    }
    if (id === 'fmt ') {
      if (at + 8 + size > head.length) break
      format = parseFmt(view, { start: at + 8, size })
    }
    at += 8 + size + (size % 2)
  }
  throw new UnsupportedAudioError('the first bytes of this WAV do not reach its data chunk')
}

/** Decode whole frames of sample bytes into planar channels starting at frame `into`. Returns frames decoded. */
export function decodeWavFrames(
  bytes: Uint8Array,
  format: WavFormat,
  channels: Float32Array[],
  into: number,
): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const read = sampleReader(view, format.format, format.bits)
  const bytesPerSample = format.bits / 8
  const frames = Math.min(Math.floor(bytes.length / format.blockAlign), channels[0].length - into)
  for (let f = 0; f < frames; f++) {
    const base = f * format.blockAlign
    for (let c = 0; c < format.channels; c++) channels[c][into + f] = read(base + c * bytesPerSample)
  }
  return Math.max(0, frames)
}

function sampleReader(view: DataView, format: number, bits: number): (at: number) => number {
  if (format === FORMAT_PCM) {
    switch (bits) {
      case 8:
        return (at) => (view.getUint8(at) - 128) / 128
      case 16:
        return (at) => view.getInt16(at, true) / 32768
      case 24:
        return (at) => {
          const v = view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16)
          return v / 8388608
        }
      case 32:
        return (at) => view.getInt32(at, true) / 2147483648
    }
  }
  if (format === FORMAT_FLOAT) {
    if (bits === 32) return (at) => view.getFloat32(at, true)
    if (bits === 64) return (at) => view.getFloat64(at, true)
  }
  throw new UnsupportedAudioError(`WAV format ${format} with ${bits}-bit samples`)
}

/**
 * Header of a 16-bit PCM WAV: RIFF, fmt, any extra chunks (each padded to an
 * even size), then the data chunk header. `dataBytes` may be patched later.
 */
export function wavHeader(options: {
  sampleRate: number
  channels: number
  dataBytes: number
  extraChunks?: Array<{ id: string; body: Uint8Array }>
}): Uint8Array {
  const extras = options.extraChunks ?? []
  const extraBytes = extras.reduce((n, c) => n + 8 + c.body.length + (c.body.length % 2), 0)
  const header = new Uint8Array(12 + 24 + extraBytes + 8)
  const view = new DataView(header.buffer)
  const writeAscii = (at: number, text: string) => {
    for (let i = 0; i < 4; i++) header[at + i] = text.charCodeAt(i)
  }
  writeAscii(0, 'RIFF')
  view.setUint32(4, header.length - 8 + options.dataBytes, true)
  writeAscii(8, 'WAVE')
  writeAscii(12, 'fmt ')
  view.setUint32(16, 16, true)
  view.setUint16(20, FORMAT_PCM, true)
  view.setUint16(22, options.channels, true)
  view.setUint32(24, options.sampleRate, true)
  view.setUint32(28, options.sampleRate * options.channels * 2, true)
  view.setUint16(32, options.channels * 2, true)
  view.setUint16(34, 16, true)
  let at = 36
  for (const chunk of extras) {
    writeAscii(at, chunk.id)
    view.setUint32(at + 4, chunk.body.length, true)
    header.set(chunk.body, at + 8)
    at += 8 + chunk.body.length + (chunk.body.length % 2)
  }
  writeAscii(at, 'data')
  view.setUint32(at + 4, options.dataBytes, true)
  return header
}
