/**
 * The swarm wire protocol, `/tutti/swarm/1.0.0`: the one schema file.
 *
 * A stream has two fixed roles. The side that wants pieces (the client) opens
 * it for one song; the other side (the server) uploads. Two leechers that
 * trade open one stream each way. Client → server: hello, interested,
 * request, cancel. Server → client: handshake (manifest when asked, bitfield,
 * load, choke state) or unknown, then haves, choke/unchoke, pieces, rejects
 * and peer exchange (PEX) lists. Every field is bounded.
 */
import { z } from 'zod'
import { HASH_BYTES, MAX_SONG_BYTES } from '../library/content-id.ts'

export const SWARM_PROTOCOL = '/tutti/swarm/1.0.0'
/** Largest piece we exchange. Tutti songs use 64 KiB; manifests with bigger pieces are refused. */
export const MAX_PIECE_BYTES = 1024 * 1024
export const MIN_PIECE_BYTES = 64 * 1024
export const MAX_PIECES = Math.ceil(MAX_SONG_BYTES / MIN_PIECE_BYTES)
export const MAX_BITFIELD_BYTES = Math.ceil(MAX_PIECES / 8)
export const MAX_PEX_PEERS = 50
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
  z.object({ t: z.literal('choke') }),
  z.object({ t: z.literal('unchoke') }),
  z.object({ t: z.literal('piece'), piece: pieceIndex, data: bytes(MAX_PIECE_BYTES) }),
  z.object({ t: z.literal('reject'), piece: pieceIndex }),
  z.object({ t: z.literal('peers'), peers: z.array(pexPeerSchema).max(MAX_PEX_PEERS) }),
])
export type ServerMessage = z.infer<typeof serverMessageSchema>
