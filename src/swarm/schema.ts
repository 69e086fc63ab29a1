/**
 * The swarm wire protocol, `/tutti/swarm/1.0.0`: the one schema file.
 *
 * A stream has two fixed roles. The side that wants pieces (the client) opens
 * it for one song; the other side (the server) uploads. Two leechers that
 * trade open one stream each way. Client → server: hello, interested,
 * request, cancel. Server → client: handshake (manifest when asked, bitfield,
 * load, choke state) or unknown, then haves, choke/unchoke, pieces, rejects
 * and peer exchange (PEX) lists. Every field is bounded.
 *
 * Frames are varint-length-prefixed. A control frame is a CBOR map checked by
 * the schemas below. A piece travels as a binary frame so its payload is never
 * CBOR-encoded or copied: `0x00 · piece index (u32, big-endian) · bytes`. A
 * CBOR map never starts with 0x00, so the first byte tells the two apart.
 */
import type { Uint8ArrayList } from 'uint8arraylist'
import { z } from 'zod'
import { HASH_BYTES, MAX_SONG_BYTES } from '../library/content-id.ts'
import { decodeMessage, encodeMessage, WireError } from '../net/framed.ts'

export const SWARM_PROTOCOL = '/tutti/swarm/1.0.0'
/** Largest piece we exchange. Tutti songs use 64 KiB; manifests with bigger pieces are refused. */
export const MAX_PIECE_BYTES = 1024 * 1024
export const MIN_PIECE_BYTES = 64 * 1024
export const MAX_PIECES = Math.ceil(MAX_SONG_BYTES / MIN_PIECE_BYTES)
export const MAX_BITFIELD_BYTES = Math.ceil(MAX_PIECES / 8)
export const MAX_PEX_PEERS = 50
/** Pieces announced in one `haves` message. */
export const MAX_HAVES = 4096
/** First byte of a binary piece frame. */
export const PIECE_FRAME_TAG = 0x00
/** Tag byte plus the u32 piece index. */
export const PIECE_FRAME_HEADER_BYTES = 5
/** Bounds every frame: the largest is a handshake carrying a manifest of `MAX_PIECES` hashes. */
export const MAX_FRAME_BYTES = MAX_PIECES * HASH_BYTES + MAX_BITFIELD_BYTES + 4096

const bytes = (max: number) =>
  z.custom<Uint8Array>((b) => b instanceof Uint8Array && b.byteLength <= max, {
    message: `expected at most ${max} bytes`,
  })
const pieceIndex = z.number().int().min(0).max(MAX_PIECES)
const load = z.number().int().min(0).max(100_000)

export const manifestSchema = z.object({
  size: z.number().int().min(0).max(MAX_SONG_BYTES),
  pieceSize: z.number().int().min(MIN_PIECE_BYTES).max(MAX_PIECE_BYTES),
  pieceHashes: bytes(MAX_PIECES * HASH_BYTES),
})

export const clientMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('hello'), cid: z.string().min(1).max(200), wantManifest: z.boolean() }),
  z.object({ t: z.literal('interested'), value: z.boolean() }),
  z.object({ t: z.literal('request'), piece: pieceIndex }),
  z.object({ t: z.literal('cancel'), piece: pieceIndex }),
])
export type ClientMessage = z.infer<typeof clientMessageSchema>

export const pexPeerSchema = z.object({
  id: z.string().min(1).max(200),
  addrs: z.array(z.string().max(300)).max(8),
  /**
   * Who should dial, as far as the sender knows. `true`: this peer came to the
   * song after you and was given your address, so it is dialing you; wait for
   * it. `false`: it came before you and is only now told of you; dial it.
   * Absent: unknown (the smaller peer id dials).
   */
  knowsYou: z.boolean().optional(),
})
export type PexPeer = z.infer<typeof pexPeerSchema>

export const serverMessageSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('handshake'),
    manifest: manifestSchema.optional(),
    have: bytes(MAX_BITFIELD_BYTES),
    load,
    choked: z.boolean(),
  }),
  /** The server does not have this song (any more). */
  z.object({ t: z.literal('unknown') }),
  z.object({ t: z.literal('have'), piece: pieceIndex, load }),
  /** Several haves at once (announcements are batched). */
  z.object({ t: z.literal('haves'), pieces: z.array(pieceIndex).min(1).max(MAX_HAVES), load }),
  z.object({ t: z.literal('choke') }),
  z.object({ t: z.literal('unchoke') }),
  z.object({ t: z.literal('reject'), piece: pieceIndex }),
  z.object({ t: z.literal('peers'), peers: z.array(pexPeerSchema).max(MAX_PEX_PEERS) }),
])
export type ServerControlMessage = z.infer<typeof serverMessageSchema>
/** A piece, as parsed from its binary frame: its payload as the received chunks, not copied. */
export interface PieceMessage {
  t: 'piece'
  piece: number
  data: Uint8ArrayList
}
export type ServerMessage = ServerControlMessage | PieceMessage

/** Bounds every frame a client reads: the largest is a handshake, or a piece frame. */
export const MAX_SERVER_FRAME_BYTES = Math.max(MAX_FRAME_BYTES, PIECE_FRAME_HEADER_BYTES + MAX_PIECE_BYTES)

/** The header of a binary piece frame, length prefix included; the payload follows as is. */
export function pieceFrameHeader(piece: number, dataBytes: number): Uint8Array {
  const length = PIECE_FRAME_HEADER_BYTES + dataBytes
  const prefix: number[] = []
  let v = length
  while (v >= 0x80) {
    prefix.push((v & 0x7f) | 0x80)
    v = Math.floor(v / 128)
  }
  prefix.push(v)
  const out = new Uint8Array(prefix.length + PIECE_FRAME_HEADER_BYTES)
  out.set(prefix)
  out[prefix.length] = PIECE_FRAME_TAG
  new DataView(out.buffer).setUint32(prefix.length + 1, piece)
  return out
}

/** Parse one frame from a server: a binary piece or a schema-checked control message. */
export function parseServerFrame(frame: Uint8ArrayList): ServerMessage {
  if (frame.byteLength > 0 && frame.get(0) === PIECE_FRAME_TAG) {
    if (frame.byteLength < PIECE_FRAME_HEADER_BYTES) throw new WireError('truncated piece frame')
    const piece = frame.getUint32(1)
    const dataBytes = frame.byteLength - PIECE_FRAME_HEADER_BYTES
    if (piece > MAX_PIECES) throw new WireError(`piece index ${piece} out of range`)
    if (dataBytes > MAX_PIECE_BYTES) throw new WireError(`piece of ${dataBytes} bytes is too large`)
    return { t: 'piece', piece, data: frame.sublist(PIECE_FRAME_HEADER_BYTES) }
  }
  return decodeMessage(serverMessageSchema, frame.subarray(), MAX_FRAME_BYTES)
}

/** Parse one frame from a client (control messages only). */
export function parseClientFrame(frame: Uint8ArrayList): ClientMessage {
  return decodeMessage(clientMessageSchema, frame.subarray(), MAX_FRAME_BYTES)
}

/**
 * Send and parse one control message of every kind, once. zod compiles a
 * schema's fast path on its first parse; done when the swarm starts, that
 * is not paid in the middle of the node's first link (in bench:swarm's pair,
 * 3–4 ms at each end for each of hello and handshake: ~13 ms of the 25 ms to
 * the first piece).
 */
export function warmUpWire(): void {
  const client: ClientMessage[] = [
    { t: 'hello', cid: 'warm-up', wantManifest: true },
    { t: 'interested', value: true },
    { t: 'request', piece: 0 },
    { t: 'cancel', piece: 0 },
  ]
  const server: ServerControlMessage[] = [
    {
      t: 'handshake',
      manifest: {
        size: MIN_PIECE_BYTES,
        pieceSize: MIN_PIECE_BYTES,
        pieceHashes: new Uint8Array(HASH_BYTES),
      },
      have: new Uint8Array(1),
      load: 0,
      choked: true,
    },
    { t: 'unknown' },
    { t: 'have', piece: 0, load: 0 },
    { t: 'haves', pieces: [0], load: 0 },
    { t: 'choke' },
    { t: 'unchoke' },
    { t: 'reject', piece: 0 },
    { t: 'peers', peers: [{ id: 'warm-up', addrs: ['/ip4/127.0.0.1/tcp/1'], knowsYou: true }] },
  ]
  for (const m of client)
    decodeMessage(clientMessageSchema, encodeMessage(clientMessageSchema, m), MAX_FRAME_BYTES)
  for (const m of server)
    decodeMessage(serverMessageSchema, encodeMessage(serverMessageSchema, m), MAX_FRAME_BYTES)
}
