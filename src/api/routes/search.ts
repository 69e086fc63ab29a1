/**
 * Search routes: network search with results streamed as Server-Sent Events
 * (or collected, for scripts), another peer's catalog page by page, the
 * public party directory, and this node's reachability. They serve from the
 * optional `components.search` (a `Search`) and `components.directory` (a
 * `Directory`); until the node passes them, the routes answer 503.
 */
import { Readable } from 'node:stream'
import { z } from 'zod'
import type { Directory } from '../../directory/directory.ts'
import { CatalogSort } from '../../search/schema.ts'
import type { Search, SearchQuery } from '../../search/search.ts'
import type { SearchHit } from '../../search/session.ts'
import { FeatureUnavailableError } from '../errors.ts'
import { httpRoute } from '../route.ts'
import type { ApiComponents } from '../types.ts'

export interface SearchApiComponents {
  search?: Search
  directory?: Directory
}

function search(components: ApiComponents): Search {
  const s = (components as ApiComponents & SearchApiComponents).search
  if (s === undefined) throw new FeatureUnavailableError('search')
  return s
}

function directory(components: ApiComponents): Directory {
  const d = (components as ApiComponents & SearchApiComponents).directory
  if (d === undefined) throw new FeatureUnavailableError('directory')
  return d
}

const text = z.string().max(200)
const searchQuery = z.object({
  q: text.optional(),
  title: text.optional(),
  artist: text.optional(),
  album: text.optional(),
  minDurationSec: z.coerce.number().min(0).max(86_400).optional(),
  maxDurationSec: z.coerce.number().min(0).max(86_400).optional(),
  ttl: z.coerce.number().int().min(1).max(7).optional(),
  timeoutMs: z.coerce.number().int().min(100).max(30_000).optional(),
})
type SearchParams = z.infer<typeof searchQuery>

function toQuery(p: SearchParams): SearchQuery {
  return {
    text: p.q,
    title: p.title,
    artist: p.artist,
    album: p.album,
    minDurationSec: p.minDurationSec,
    maxDurationSec: p.maxDurationSec,
  }
}

/** What one streamed hit looks like to the UI: the hit and its group so far. */
export function hitFrame(hit: SearchHit) {
  return {
    queryId: hit.queryId,
    atMs: Math.round(hit.atMs),
    cid: hit.hit.cid,
    provider: hit.provider,
    result: hit.group,
  }
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

export const searchRoutes = [
  httpRoute<Record<string, never>, SearchParams>({
    method: 'GET',
    url: '/api/search/stream',
    schema: { query: searchQuery },
    // text/event-stream: `hit` per provider answer (with the grouped result so far), `rtt` when a
    // provider's round-trip time comes in, `done` with a summary and the final ranking.
    handler: ({ components, query, reply, signal }) => {
      const session = search(components).search(toQuery(query), {
        ttl: query.ttl,
        timeoutMs: query.timeoutMs,
        signal,
      })
      async function* frames(): AsyncGenerator<string> {
        yield sse('start', { queryId: session.id })
        const rtts: Array<{ peerId: string; rttMs: number }> = []
        const off = session.on('rtt', (r) => rtts.push(r))
        try {
          for await (const hit of session) {
            yield sse('hit', hitFrame(hit))
            while (rtts.length > 0) yield sse('rtt', rtts.shift())
          }
          // Late RTTs (pings still in flight when the search ended) are in the final ranking.
          yield sse('done', { ...(await session.finished), results: session.results() })
        } finally {
          off()
          session.end()
        }
      }
      reply.header('content-type', 'text/event-stream; charset=utf-8')
      reply.header('cache-control', 'no-store')
      reply.header('x-accel-buffering', 'no')
      return reply.send(Readable.from(frames()))
    },
  }),
  httpRoute<Record<string, never>, Record<string, never>, SearchParams>({
    method: 'POST',
    url: '/api/search',
    schema: { body: searchQuery },
    // For scripts and the CLI's --json: waits for the search to end and answers the ranking.
    handler: async ({ components, body, signal }) => {
      const session = search(components).search(toQuery(body), {
        ttl: body.ttl,
        timeoutMs: body.timeoutMs,
        signal,
      })
      const summary = await session.finished
      return { ...summary, results: session.results() }
    },
  }),
  httpRoute<{ peerId: string }, { offset?: number; limit?: number; sort?: CatalogSort; desc?: boolean }>({
    method: 'GET',
    url: '/api/peers/:peerId/catalog',
    schema: {
      params: z.object({ peerId: z.string().min(1).max(128) }),
      query: z.object({
        offset: z.coerce.number().int().min(0).optional(),
        limit: z.coerce.number().int().min(1).max(200).optional(),
        sort: CatalogSort.optional(),
        desc: z
          .enum(['true', 'false'])
          .transform((v) => v === 'true')
          .optional(),
      }),
    },
    handler: async ({ components, params, query, signal }) =>
      search(components).catalog.browse(params.peerId, {
        offset: query.offset,
        limit: query.limit,
        sort: query.sort,
        descending: query.desc,
        signal,
      }),
  }),
  httpRoute({
    method: 'GET',
    url: '/api/directory/parties',
    handler: ({ components }) => ({ parties: directory(components).listParties() }),
  }),
  httpRoute({
    method: 'GET',
    url: '/api/network/reachability',
    handler: ({ components }) => search(components).reachability(),
  }),
  httpRoute({
    method: 'GET',
    url: '/api/search/stats',
    handler: ({ components }) => ({
      stats: search(components).stats(),
      offenders: search(components).offenders(),
    }),
  }),
]
