/**
 * The Ogg Opus headers as ogg-opus-decoder can take them. Its parser
 * (codec-parser) reads page 0 as the identification header, page 1 as the
 * comment header and every later page as audio; a comment packet that spans
 * pages, as cover art makes it, was decoded as audio and failed the whole file
 * ("offset is out of bounds"). So the decoder is given the identification page,
 * one empty comment page (the tags are the library's business, not the
 * player's) and then the audio pages, which start on a fresh page (RFC 7845
 * §3). Also the page-header parser ./stream-opus.ts seeks with. Pure.
 */

export interface OggPageHeader {
  at: number
  /** Samples decoded by the end of the page's last whole packet; −1 when no packet ends on it. */
  granule: number
  /** The page starts with the rest of a packet begun on the page before. */
  continued: boolean
  /** Header and body. */
  length: number
  /** Below 255: the page's last packet ends on it. */
  lastLacing: number
}

/** The page header of stream `serial` at `at` in `bytes`, or undefined when there is none (or it is cut off). */
export function oggPageAt(bytes: Uint8Array, at: number, serial: number): OggPageHeader | undefined {
  if (at + 27 > bytes.length) return undefined
  if (bytes[at] !== 0x4f || bytes[at + 1] !== 0x67 || bytes[at + 2] !== 0x67 || bytes[at + 3] !== 0x53)
    return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes[at + 4] !== 0 || view.getUint32(at + 14, true) !== serial) return undefined
  const segments = bytes[at + 26]
  if (at + 27 + segments > bytes.length) return undefined
  let body = 0
  for (let i = 0; i < segments; i++) body += bytes[at + 27 + i]
  const granule = view.getBigInt64(at + 6, true)
  return {
    at,
    granule: granule < 0n || granule > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(granule),
    continued: (bytes[at + 5] & 0x01) !== 0,
    length: 27 + segments + body,
    lastLacing: segments === 0 ? 0 : bytes[at + 26 + segments],
  }
}

/**
 * Where the audio pages begin in `bytes` (the file's first bytes): after the
 * identification page and the page(s) of the comment packet, which ends on the
 * page whose last lacing value is below 255. Undefined when that is not inside
 * `bytes`.
 */
export function opusAudioStart(bytes: Uint8Array, serial: number): number | undefined {
  const first = oggPageAt(bytes, 0, serial)
  if (first === undefined) return undefined
  for (let at = first.length; ; ) {
    const page = oggPageAt(bytes, at, serial)
    if (page === undefined || at + page.length > bytes.length) return undefined
    at += page.length
    if (page.lastLacing < 255) return at
  }
}

/** Ogg's CRC-32 (polynomial 0x04c11db7, not reflected, over the page with its CRC field zeroed). */
const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, i) => {
  let r = i << 24
  for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1
  return r >>> 0
})

function oggCrc(page: Uint8Array): number {
  let crc = 0
  for (const byte of page) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]) >>> 0
  return crc
}

/** The identification page of `bytes` followed by a comment page holding no tags (sequence number 1). */
export function decoderHeaders(bytes: Uint8Array, serial: number): Uint8Array | undefined {
  const first = oggPageAt(bytes, 0, serial)
  if (first === undefined || first.length > bytes.length) return undefined
  // "OpusTags", a vendor string of length 0, no comments.
  const body = new Uint8Array(16)
  body.set(new TextEncoder().encode('OpusTags'), 0)
  const page = new Uint8Array(27 + 1 + body.length)
  const view = new DataView(page.buffer)
  page.set(new TextEncoder().encode('OggS'), 0)
  view.setUint32(14, serial, true)
  view.setUint32(18, 1, true)
  page[26] = 1
  page[27] = body.length
  page.set(body, 28)
  view.setUint32(22, oggCrc(page), true)
  const out = new Uint8Array(first.length + page.length)
  out.set(bytes.subarray(0, first.length), 0)
  out.set(page, first.length)
  return out
}

/** A whole Ogg Opus file with its comment pages replaced by one empty comment page; as it was when its pages are not found. */
export function withDecoderHeaders(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 27) return bytes
  const serial = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(14, true)
  const audioStart = opusAudioStart(bytes, serial)
  const headers = decoderHeaders(bytes, serial)
  if (audioStart === undefined || headers === undefined) return bytes
  const out = new Uint8Array(headers.length + bytes.length - audioStart)
  out.set(headers, 0)
  out.set(bytes.subarray(audioStart), headers.length)
  return out
}
