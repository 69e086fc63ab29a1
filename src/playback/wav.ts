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
  if (fmt === undefined || data === undefined || fmt.size < 16)
    throw new CorruptAudioError('WAV without fmt or data chunk')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let format = view.getUint16(fmt.start, true)
  const channelCount = view.getUint16(fmt.start + 2, true)
  const sampleRate = view.getUint32(fmt.start + 4, true)
  const blockAlign = view.getUint16(fmt.start + 12, true)
  const bits = view.getUint16(fmt.start + 14, true)
  if (format === FORMAT_EXTENSIBLE) {
    if (fmt.size < 40) throw new CorruptAudioError('WAVE_FORMAT_EXTENSIBLE with a short fmt chunk')
    format = view.getUint16(fmt.start + 24, true) // first two bytes of the sub-format GUID
  }
  if (channelCount === 0 || sampleRate === 0)
    throw new CorruptAudioError('WAV with zero channels or sample rate')
  const bytesPerSample = bits / 8
  if (!Number.isInteger(bytesPerSample) || blockAlign < channelCount * bytesPerSample) {
    throw new CorruptAudioError(`WAV with ${bits}-bit samples and block align ${blockAlign}`)
  }
  const read = sampleReader(view, format, bits)
  const frames = Math.floor(data.size / blockAlign)
  const channels = Array.from({ length: channelCount }, () => new Float32Array(frames))
  for (let f = 0; f < frames; f++) {
    const base = data.start + f * blockAlign
    for (let c = 0; c < channelCount; c++) channels[c][f] = read(base + c * bytesPerSample)
  }
  return { sampleRate, channels }
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
