/**
 * File encoders for the demo library: 16-bit PCM WAV with a RIFF LIST/INFO
 * tag chunk, and MP3 (lamejs) behind a hand-written ID3v2.3 tag. Pure: bytes in, bytes out.
 */
import { Mp3Encoder } from '@breezystack/lamejs'
import { type Pcm, toInt16 } from './synth.ts'

export interface Tags {
  title: string
  artist: string
  album: string
}

/** A RIFF INFO sub-chunk: id, little-endian size, NUL-terminated text, padded to even length. */
function infoChunk(id: string, text: string): Buffer {
  const body = Buffer.from(`${text}\0`, 'latin1')
  const padded = body.length % 2 === 0 ? body : Buffer.concat([body, Buffer.alloc(1)])
  const head = Buffer.alloc(8)
  head.write(id, 0, 'ascii')
  head.writeUInt32LE(body.length, 4)
  return Buffer.concat([head, padded])
}

export function encodeWav(pcm: Pcm, tags: Tags): Buffer {
  const channels = 2
  const frames = pcm.left.length
  const left = toInt16(pcm.left)
  const right = toInt16(pcm.right)
  const data = Buffer.alloc(frames * channels * 2)
  for (let i = 0; i < frames; i++) {
    data.writeInt16LE(left[i], i * 4)
    data.writeInt16LE(right[i], i * 4 + 2)
  }
  const fmt = Buffer.alloc(24)
  fmt.write('fmt ', 0, 'ascii')
  fmt.writeUInt32LE(16, 4)
  fmt.writeUInt16LE(1, 8) // PCM
  fmt.writeUInt16LE(channels, 10)
  fmt.writeUInt32LE(pcm.sampleRate, 12)
  fmt.writeUInt32LE(pcm.sampleRate * channels * 2, 16)
  fmt.writeUInt16LE(channels * 2, 20)
  fmt.writeUInt16LE(16, 22)
  const info = Buffer.concat([
    Buffer.from('INFO', 'ascii'),
    infoChunk('INAM', tags.title),
    infoChunk('IART', tags.artist),
    infoChunk('IPRD', tags.album),
  ])
  const listHead = Buffer.alloc(8)
  listHead.write('LIST', 0, 'ascii')
  listHead.writeUInt32LE(info.length, 4)
  const dataHead = Buffer.alloc(8)
  dataHead.write('data', 0, 'ascii')
  dataHead.writeUInt32LE(data.length, 4)
  const body = Buffer.concat([Buffer.from('WAVE', 'ascii'), fmt, listHead, info, dataHead, data])
  const riff = Buffer.alloc(8)
  riff.write('RIFF', 0, 'ascii')
  riff.writeUInt32LE(body.length, 4)
  return Buffer.concat([riff, body])
}

/** ID3v2.3 text frame, UTF-16 with BOM so any title survives. */
function id3TextFrame(id: string, text: string): Buffer {
  const value = Buffer.concat([Buffer.from([0x01, 0xff, 0xfe]), Buffer.from(text, 'utf16le')])
  const head = Buffer.alloc(10)
  head.write(id, 0, 'ascii')
  head.writeUInt32BE(value.length, 4) // v2.3 frame sizes are plain big-endian, not synchsafe
  return Buffer.concat([head, value])
}

export function encodeId3v23(tags: Tags): Buffer {
  const frames = Buffer.concat([
    id3TextFrame('TIT2', tags.title),
    id3TextFrame('TPE1', tags.artist),
    id3TextFrame('TALB', tags.album),
  ])
  const head = Buffer.alloc(10)
  head.write('ID3', 0, 'ascii')
  head[3] = 3 // version 2.3.0
  head[4] = 0
  head[5] = 0 // no flags
  // The tag size is synchsafe: 7 bits per byte.
  const size = frames.length
  head[6] = (size >> 21) & 0x7f
  head[7] = (size >> 14) & 0x7f
  head[8] = (size >> 7) & 0x7f
  head[9] = size & 0x7f
  return Buffer.concat([head, frames])
}

export function encodeMp3(pcm: Pcm, tags: Tags, { kbps = 128, mono = false } = {}): Buffer {
  const encoder = new Mp3Encoder(mono ? 1 : 2, pcm.sampleRate, kbps)
  const left = toInt16(mono ? downmix(pcm) : pcm.left)
  const right = mono ? undefined : toInt16(pcm.right)
  const parts: Uint8Array[] = [encodeId3v23(tags)]
  const block = 1152 * 8
  for (let i = 0; i < left.length; i += block) {
    const out = encoder.encodeBuffer(left.subarray(i, i + block), right?.subarray(i, i + block))
    if (out.length > 0) parts.push(Buffer.from(out))
  }
  const tail = encoder.flush()
  if (tail.length > 0) parts.push(Buffer.from(tail))
  return Buffer.concat(parts)
}

function downmix(pcm: Pcm): Float32Array {
  const out = new Float32Array(pcm.left.length)
  for (let i = 0; i < out.length; i++) out[i] = (pcm.left[i] + pcm.right[i]) / 2
  return out
}
