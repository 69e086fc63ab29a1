/**
 * Wire schemas of the search protocols:
 * - `/tutti/search/1.0.0`: one or more query frames from a neighbour (flooded with a TTL);
 * - `/tutti/search-results/1.0.0`: one results frame, sent straight to the asker
 *   (or, when the asker cannot be dialled, hop by hop back along the query path);
 * - `/tutti/catalog/1.0.0`: one request, one page of another peer's shared library.
 * Every message is bounded; anything else is a WireError and a reset stream.
 */
import { z } from 'zod'
import { TextIndex } from './text-index.ts'

export const SEARCH_PROTOCOL = '/tutti/search/1.0.0'
export const RESULTS_PROTOCOL = '/tutti/search-results/1.0.0'
export const CATALOG_PROTOCOL = '/tutti/catalog/1.0.0'

export const MAX_QUERY_BYTES = 4 * 1024
export const MAX_RESULT_BYTES = 64 * 1024
export const MAX_CATALOG_BYTES = 512 * 1024
/** A node never forwards a query further than this, whatever TTL it carries. */
export const MAX_TTL = 7
export const MAX_HITS_PER_RESULT = 50
export const MAX_CATALOG_PAGE = 200

const Text = z.string().max(200)
const PeerIdString = z.string().min(1).max(128)
const Addrs = z.array(z.string().max(300)).max(8)

export const QueryFilters = z
  .object({
    title: Text.optional(),
    artist: Text.optional(),
    album: Text.optional(),
    minDurationSec: z.number().min(0).max(86_400).optional(),
    maxDurationSec: z.number().min(0).max(86_400).optional(),
  })
  .strict()
export type QueryFilters = z.infer<typeof QueryFilters>

export const QueryMessage = z
  .object({
    /** 16 random bytes, hex: the de-duplication key. */
    id: z.string().regex(/^[0-9a-f]{32}$/),
    ttl: z.number().int().min(1).max(16),
    hops: z.number().int().min(0).max(16),
    origin: z.object({ peerId: PeerIdString, addrs: Addrs }).strict(),
    text: Text,
    filters: QueryFilters,
    /** Most hits a responder should send. */
    limit: z.number().int().min(1).max(MAX_HITS_PER_RESULT),
  })
  .strict()
  .refine((q) => TextIndex.hasTerms({ text: q.text, ...q.filters }), {
    message: 'query has no searchable terms',
  })
export type QueryMessage = z.infer<typeof QueryMessage>

export const SongHit = z
  .object({
    cid: z.string().min(1).max(128),
    title: Text,
    artist: Text,
    album: Text,
    durationSec: z.number().min(0).max(86_400),
    size: z.number().int().min(0),
    format: z.string().max(16),
    score: z.number().min(0).max(1_000),
  })
  .strict()
export type SongHit = z.infer<typeof SongHit>

export const ResultMessage = z
  .object({
    queryId: z.string().regex(/^[0-9a-f]{32}$/),
    provider: z.object({ peerId: PeerIdString, addrs: Addrs }).strict(),
    /** Active uploads at the provider when it answered. */
    load: z.number().int().min(0).max(10_000),
    /** Hops the query travelled to reach the provider. */
    hops: z.number().int().min(0).max(16),
    /** Hops this result has travelled back along the query path (0 = sent directly). */
    backHops: z.number().int().min(0).max(16),
    hits: z.array(SongHit).min(1).max(MAX_HITS_PER_RESULT),
    /**
     * The provider's signature (its libp2p identity key) over everything but `backHops`
     * (answer-signature.ts). Required by the asker on an answer routed back (backHops > 0).
     */
    signature: z
      .instanceof(Uint8Array)
      .refine((s) => s.length <= 512, 'signature too long')
      .optional(),
  })
  .strict()
export type ResultMessage = z.infer<typeof ResultMessage>

/** `duration` is newer than the others: a peer from before it resets the stream (PeerUnreachableError). */
export const CatalogSort = z.enum(['title', 'artist', 'album', 'duration'])
export type CatalogSort = z.infer<typeof CatalogSort>

export const CatalogRequest = z
  .object({
    offset: z.number().int().min(0).max(10_000_000),
    limit: z.number().int().min(1).max(MAX_CATALOG_PAGE),
    sort: CatalogSort,
    descending: z.boolean(),
  })
  .strict()
export type CatalogRequest = z.infer<typeof CatalogRequest>

export const CatalogResponse = z.discriminatedUnion('ok', [
  z
    .object({
      ok: z.literal(true),
      total: z.number().int().min(0),
      offset: z.number().int().min(0),
      songs: z.array(SongHit.omit({ score: true })).max(MAX_CATALOG_PAGE),
    })
    .strict(),
  z.object({ ok: z.literal(false), code: z.string().max(64), message: z.string().max(300) }).strict(),
])
export type CatalogResponse = z.infer<typeof CatalogResponse>

/** Nothing: the reading side of a one-way stream. */
export const NoMessage = z.never()
