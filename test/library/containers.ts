/**
 * Minimal but valid FLAC, Ogg Opus and M4A files, built byte by byte so the
 * library's format tests need no encoder (ffmpeg is not on every machine).
 * FLAC frames are VERBATIM subframes (or, if asked, CONSTANT ones), so a
 * decoder must return exactly the samples given; the Opus packets are
 * TOC-only (decoders treat them as lost frames) unless asked to carry CELT
 * frame bytes; the M4A carries an empty `mdat`. Tags and durations are real.
 * The CRCs are computed here, apart from src's: a wrong one in either shows.
 */
import type { Tags } from '../../src/library/demo/encode.ts'

// ---------- FLAC ----------

function crc8(bytes: Uint8Array): number {
  let crc = 0
  for (const byte of bytes) {
    crc ^= byte
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff
  }
  return crc
}

function crc16(bytes: Uint8Array): number {
  let crc = 0
  for (const byte of bytes) {
    crc ^= byte << 8
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x8005) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

function vorbisComment(tags: Tags): Buffer {
  const entries = [`TITLE=${tags.title}`, `ARTIST=${tags.artist}`, `ALBUM=${tags.album}`].map((c) =>
    Buffer.from(c, 'utf8'),
  )
  const vendor = Buffer.from('tutti test fixtures', 'utf8')
  const parts: Buffer[] = [u32le(vendor.length), vendor, u32le(entries.length)]
  for (const e of entries) parts.push(u32le(e.length), e)
  return Buffer.concat(parts)
}

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return b
}

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}

const FLAC_BLOCK = 4096

/** A frame number as FLAC codes it (UTF-8's scheme; fixtures stay under 2^16 frames, ~25 minutes). */
function flacFrameNumber(n: number): number[] {
  if (n < 0x80) return [n]
  if (n < 0x800) return [0xc0 | (n >> 6), 0x80 | (n & 0x3f)]
  if (n < 0x10000) return [0xe0 | (n >> 12), 0x80 | ((n >> 6) & 0x3f), 0x80 | (n & 0x3f)]
  throw new Error('fixture too long for its frame numbers')
}

/**
 * Mono 16-bit 44.1 kHz FLAC of `samples` (int16 values), with a Vorbis
 * comment; with `seekEvery`, a SEEKTABLE with a point every that many frames;
 * with `constantFrames`, that many first frames hold one value each (CONSTANT
 * subframes, a few bytes: the bytes then no longer follow the samples).
 * STREAMINFO gives the largest frame's size.
 */
export function flacBytes(
  samples: Int16Array,
  tags: Tags,
  { seekEvery = 0, constantFrames = 0 } = {},
): Buffer {
  const rate = 44_100
  const total = samples.length
  const frames: Buffer[] = []
  for (let frame = 0, at = 0; at < total; frame++, at += FLAC_BLOCK) {
    const n = Math.min(FLAC_BLOCK, total - at)
    // Sync + fixed blocking; block size "16-bit at end" (0111), 44.1 kHz (1001); mono, 16 bps; frame number.
    const header = Buffer.from([
      0xff,
      0xf8,
      0x79,
      0x08,
      ...flacFrameNumber(frame),
      ((n - 1) >> 8) & 0xff,
      (n - 1) & 0xff,
    ])
    let body: Buffer
    if (frame < constantFrames) {
      // subframe: CONSTANT, its one value (the frame's first sample), 3 bytes for 4096 samples.
      body = Buffer.alloc(3)
      body.writeInt16BE(samples[at], 1)
    } else {
      body = Buffer.alloc(1 + 2 * n)
      body[0] = 0x02 // subframe: VERBATIM, no wasted bits
      for (let i = 0; i < n; i++) body.writeInt16BE(samples[at + i], 1 + 2 * i)
    }
    const head = Buffer.concat([header, Buffer.from([crc8(header)]), body])
    const footer = Buffer.alloc(2)
    footer.writeUInt16BE(crc16(head))
    frames.push(Buffer.concat([head, footer]))
  }
  const info = Buffer.alloc(34)
  info.writeUInt16BE(FLAC_BLOCK, 0)
  info.writeUInt16BE(FLAC_BLOCK, 2)
  const largest = Math.max(0, ...frames.map((f) => f.length))
  info.writeUIntBE(largest, 7, 3)
  // 20-bit rate, 3-bit channels-1 (0), 5-bit bps-1 (15), 36-bit total samples; MD5 left zero ("unknown").
  info[10] = (rate >> 12) & 0xff
  info[11] = (rate >> 4) & 0xff
  info[12] = ((rate & 0x0f) << 4) | (0 << 1) | (15 >> 4)
  info[13] = ((15 & 0x0f) << 4) | Math.floor(total / 2 ** 32)
  info.writeUInt32BE(total >>> 0, 14)
  const comment = vorbisComment(tags)
  const blockHeader = (last: boolean, type: number, length: number) =>
    Buffer.from([(last ? 0x80 : 0) | type, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff])
  const parts: Buffer[] = [Buffer.from('fLaC'), blockHeader(false, 0, info.length), info]
  if (seekEvery > 0) {
    // Points: first sample (u64), offset from the first frame (u64), samples in that frame (u16).
    const points: Buffer[] = []
    for (let k = 0, offset = 0; k < frames.length; offset += frames[k].length, k++) {
      if (k % seekEvery !== 0) continue
      const point = Buffer.alloc(18)
      point.writeBigUInt64BE(BigInt(k * FLAC_BLOCK), 0)
      point.writeBigUInt64BE(BigInt(offset), 8)
      point.writeUInt16BE(Math.min(FLAC_BLOCK, total - k * FLAC_BLOCK), 16)
      points.push(point)
    }
    const table = Buffer.concat(points)
    parts.push(blockHeader(false, 3, table.length), table)
  }
  parts.push(blockHeader(true, 4, comment.length), comment, ...frames)
  return Buffer.concat(parts)
}

// ---------- Ogg Opus ----------

const OGG_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let r = i << 24
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1
    table[i] = r >>> 0
  }
  return table
})()

function oggCrc(bytes: Uint8Array): number {
  let crc = 0
  for (const byte of bytes) crc = ((crc << 8) ^ OGG_TABLE[((crc >>> 24) ^ byte) & 0xff]) >>> 0
  return crc
}

function oggPage(
  packets: Buffer[],
  granule: bigint,
  serial: number,
  sequence: number,
  flags: number,
): Buffer {
  const lacing: number[] = []
  for (const p of packets) {
    let left = p.length
    while (left >= 255) {
      lacing.push(255)
      left -= 255
    }
    lacing.push(left)
  }
  if (lacing.length > 255) throw new Error('too many segments for one Ogg page')
  const header = Buffer.alloc(27)
  header.write('OggS', 0, 'latin1')
  header[5] = flags
  header.writeBigInt64LE(granule, 6)
  header.writeUInt32LE(serial, 14)
  header.writeUInt32LE(sequence, 18)
  header[26] = lacing.length
  const page = Buffer.concat([header, Buffer.from(lacing), ...packets])
  page.writeUInt32LE(oggCrc(page), 22)
  return page
}

const OPUS_PRE_SKIP = 312
const OPUS_FRAME = 960 // 20 ms at 48 kHz

/**
 * Mono Ogg Opus of about `seconds` (whole 20 ms frames), with OpusTags. With
 * `frameBytes`, each packet carries that many deterministic pseudo-random
 * bytes, which a CELT decoder turns into audio (noise); without, packets are
 * TOC-only.
 */
export function oggOpusBytes(
  seconds: number,
  tags: Tags,
  {
    frameBytes = 0,
    packetsPerPage = 200,
    /** Frame bytes from this second on (a song whose bitrate changes halfway). */
    laterFrameBytes = { from: Number.POSITIVE_INFINITY, bytes: 0 },
  } = {},
): Buffer {
  const head = Buffer.alloc(19)
  head.write('OpusHead', 0, 'latin1')
  head[8] = 1 // version
  head[9] = 1 // channels
  head.writeUInt16LE(OPUS_PRE_SKIP, 10)
  head.writeUInt32LE(48_000, 12)
  const opusTags = Buffer.concat([Buffer.from('OpusTags', 'latin1'), vorbisComment(tags)])
  const frames = Math.round((seconds * 48_000) / OPUS_FRAME)
  // TOC 0xF8: CELT full-band 20 ms, mono, one frame; without frame bytes, a lost frame.
  let x = 12345
  const byte = () => {
    x = (x * 16807) % 2147483647
    return x & 0xff
  }
  const laterFrom = Math.round((laterFrameBytes.from * 48_000) / OPUS_FRAME)
  const packets = Array.from({ length: frames }, (_, i) =>
    Buffer.from([0xf8, ...Array.from({ length: i < laterFrom ? frameBytes : laterFrameBytes.bytes }, byte)]),
  )
  const serial = 0x7475_7474
  const pages = [oggPage([head], 0n, serial, 0, 0x02), oggPage([opusTags], 0n, serial, 1, 0)]
  // Up to `packetsPerPage` packets a page (200: 4 s), as many as its 255 lacing values allow.
  const widest = Math.max(frameBytes, laterFrom < frames ? laterFrameBytes.bytes : 0)
  const perPage = Math.min(packetsPerPage, Math.floor(255 / (Math.floor((1 + widest) / 255) + 1)))
  for (let at = 0, seq = 2; at < frames; at += perPage, seq++) {
    const chunk = packets.slice(at, at + perPage)
    const last = at + perPage >= frames
    // Samples decoded by the end of the page, the pre-skip among them (RFC 7845 §4): the song is
    // granule − pre-skip samples long.
    const granule = BigInt((at + chunk.length) * OPUS_FRAME)
    pages.push(oggPage(chunk, granule, serial, seq, last ? 0x04 : 0))
  }
  return Buffer.concat(pages)
}

// ---------- M4A ----------

function box(type: string, ...children: Buffer[]): Buffer {
  const body = Buffer.concat(children)
  return Buffer.concat([u32be(8 + body.length), Buffer.from(type, 'latin1'), body])
}

function fullBox(type: string, version: number, flags: number, ...children: Buffer[]): Buffer {
  return box(type, u32be(((version & 0xff) << 24) | (flags & 0xffffff)), ...children)
}

function ilstText(type: string, text: string): Buffer {
  // `data` atom: type 1 (UTF-8), locale 0.
  return box(type, box('data', u32be(1), u32be(0), Buffer.from(text, 'utf8')))
}

const IDENTITY_MATRIX = Buffer.concat([0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000].map((v) => u32be(v)))

/** An AAC-in-MP4 (`.m4a`) header of `seconds` at 44.1 kHz stereo with iTunes tags; no audio samples. */
export function m4aBytes(seconds: number, tags: Tags): Buffer {
  const timescale = 44_100
  const duration = Math.round(seconds * timescale)
  const mvhd = fullBox(
    'mvhd',
    0,
    0,
    u32be(0),
    u32be(0),
    u32be(timescale),
    u32be(duration),
    u32be(0x10000),
    Buffer.from([0x01, 0x00]),
    Buffer.alloc(10),
    IDENTITY_MATRIX,
    Buffer.alloc(24),
    u32be(2),
  )
  const tkhd = fullBox(
    'tkhd',
    0,
    7,
    u32be(0),
    u32be(0),
    u32be(1),
    u32be(0),
    u32be(duration),
    Buffer.alloc(8),
    Buffer.from([0, 0, 0, 0, 0x01, 0x00, 0, 0]),
    IDENTITY_MATRIX,
    u32be(0),
    u32be(0),
  )
  const mdhd = fullBox(
    'mdhd',
    0,
    0,
    u32be(0),
    u32be(0),
    u32be(timescale),
    u32be(duration),
    Buffer.from([0x55, 0xc4, 0, 0]),
  )
  const hdlr = (kind: string, name: string) =>
    fullBox(
      'hdlr',
      0,
      0,
      u32be(0),
      Buffer.from(kind, 'latin1'),
      Buffer.alloc(12),
      Buffer.from(`${name}\0`, 'latin1'),
    )
  const mp4a = box(
    'mp4a',
    Buffer.alloc(6),
    Buffer.from([0, 1]), // data reference index
    Buffer.alloc(8),
    Buffer.from([0, 2, 0, 16]), // channels 2, sample size 16
    Buffer.alloc(4),
    u32be((timescale * 65536) >>> 0),
  )
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32be(1), mp4a),
    fullBox('stts', 0, 0, u32be(0)),
    fullBox('stsc', 0, 0, u32be(0)),
    fullBox('stsz', 0, 0, u32be(0), u32be(0)),
    fullBox('stco', 0, 0, u32be(0)),
  )
  const minf = box(
    'minf',
    fullBox('smhd', 0, 0, Buffer.alloc(4)),
    box('dinf', fullBox('dref', 0, 0, u32be(1), fullBox('url ', 0, 1))),
    stbl,
  )
  const trak = box('trak', tkhd, box('mdia', mdhd, hdlr('soun', 'SoundHandler'), minf))
  const ilst = box(
    'ilst',
    ilstText('©nam', tags.title),
    ilstText('©ART', tags.artist),
    ilstText('©alb', tags.album),
  )
  const udta = box('udta', fullBox('meta', 0, 0, hdlr('mdir', ''), ilst))
  const ftyp = box('ftyp', Buffer.from('M4A ', 'latin1'), u32be(0), Buffer.from('M4A mp42isom', 'latin1'))
  return Buffer.concat([ftyp, box('moov', mvhd, trak, udta), box('mdat')])
}
