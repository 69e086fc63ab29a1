/**
 * `tutti search`, as functions the CLI (src/cli/main.ts) hooks up: it talks to
 * the running node through its local API (GET /api/search/stream,
 * src/api/routes/search.ts). `tutti party list` lives in src/cli/commands/party.ts.
 *
 *   tutti search [TEXT] [--title T] [--artist A] [--album B]
 *                [--min-duration S] [--max-duration S] [--ttl N] [--timeout MS] [--json]
 *     prints each song as the first peer answers, then the ranked table;
 *     lengths are seconds (90) or m:ss (1:30); --timeout is how long the search listens
 */
import type { ApiClient } from '../cli/api-client.ts'
import { formatBytes, formatDuration, table } from '../cli/output.ts'
import { UsageError } from '../node/config.ts'
import { TuttiError } from '../shared/errors.ts'
import { parseDuration, searchParams } from './query-params.ts'
import type { SearchResult } from './rank.ts'
import type { SearchQuery } from './search.ts'

/** The flags `tutti search` takes besides --data and --json (parseArgs options). */
export const SEARCH_FLAGS = {
  ttl: { type: 'string' },
  timeout: { type: 'string' },
  title: { type: 'string' },
  artist: { type: 'string' },
  album: { type: 'string' },
  'min-duration': { type: 'string' },
  'max-duration': { type: 'string' },
} as const

/** Seconds from `90`, `1:30` or `1:02:03`, or a UsageError naming the flag. */
export function parseSeconds(flag: string, value: string): number {
  const seconds = parseDuration(value)
  if (seconds === undefined)
    throw new UsageError(`--${flag}: seconds (90) or minutes:seconds (1:30), not ${JSON.stringify(value)}`)
  if (seconds > 86_400) throw new UsageError(`--${flag}: at most a day`)
  return seconds
}

function integerFlag(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!(Number.isInteger(n) && n >= min && n <= max)) throw new UsageError(`--${flag}: ${min}..${max}`)
  return n
}

/** The query and options from `tutti search`'s positionals and flags; UsageError when they say nothing. */
export function parseSearchArgs(
  values: Record<string, string | boolean | undefined>,
  positionals: string[],
): { query: SearchQuery; ttl?: number; timeoutMs?: number } {
  const str = (name: string) => {
    const v = values[name]
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined
  }
  const text = positionals.join(' ').trim()
  const min = str('min-duration')
  const max = str('max-duration')
  const query: SearchQuery = {
    text: text === '' ? undefined : text,
    title: str('title'),
    artist: str('artist'),
    album: str('album'),
    minDurationSec: min === undefined ? undefined : parseSeconds('min-duration', min),
    maxDurationSec: max === undefined ? undefined : parseSeconds('max-duration', max),
  }
  // Duration alone is no query: every peer would have to list its whole library.
  if ([query.text, query.title, query.artist, query.album].every((t) => t === undefined))
    throw new UsageError('search: what for? (tutti search TEXT, or --title/--artist/--album)')
  if (
    query.minDurationSec !== undefined &&
    query.maxDurationSec !== undefined &&
    query.minDurationSec > query.maxDurationSec
  )
    throw new UsageError('--min-duration is longer than --max-duration')
  return {
    query,
    ttl: integerFlag('ttl', str('ttl'), 1, 7),
    timeoutMs: integerFlag('timeout', str('timeout'), 100, 30_000),
  }
}

/** `artist: parton, 2:00–4:00` — what was asked, for "nothing found". */
export function describeQuery(query: SearchQuery): string {
  const parts: string[] = []
  if (query.text !== undefined) parts.push(`"${query.text}"`)
  for (const field of ['title', 'artist', 'album'] as const)
    if (query[field] !== undefined) parts.push(`${field}: ${query[field]}`)
  if (query.minDurationSec !== undefined || query.maxDurationSec !== undefined)
    parts.push(
      `length ${query.minDurationSec === undefined ? '' : formatDuration(query.minDurationSec)}–${query.maxDurationSec === undefined ? '' : formatDuration(query.maxDurationSec)}`,
    )
  return parts.join(', ')
}

export interface SearchCommandOptions {
  ttl?: number
  timeoutMs?: number
  json?: boolean
  signal?: AbortSignal
  out?: NodeJS.WritableStream
}

/** Parses a text/event-stream body into events as they arrive. */
export async function* readServerSentEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ event: string; data: string }> {
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true })
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      let event = 'message'
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim()
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
      }
      yield { event, data: data.join('\n') }
    }
  }
}

export async function searchCommand(
  api: ApiClient,
  query: SearchQuery | string,
  options: SearchCommandOptions = {},
): Promise<SearchResult[]> {
  const out = options.out ?? process.stdout
  const asked = typeof query === 'string' ? { text: query } : query
  const params = searchParams(asked)
  if (options.ttl !== undefined) params.set('ttl', String(options.ttl))
  if (options.timeoutMs !== undefined) params.set('timeoutMs', String(options.timeoutMs))
  const res = await fetch(`${api.baseUrl}/api/search/stream?${params}`, {
    headers: { authorization: `Bearer ${api.token}` },
    signal: options.signal,
  })
  if (!res.ok || res.body === null) {
    const error = (
      (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined
    )?.error
    throw new TuttiError(
      error?.code ?? 'API_ERROR',
      error?.message ?? `${res.status} ${res.statusText}`,
      res.status,
    )
  }
  const announced = new Set<string>()
  let results: SearchResult[] = []
  for await (const { event, data } of readServerSentEvents(res.body)) {
    if (event === 'hit' && options.json !== true) {
      const frame = JSON.parse(data) as { atMs: number; result: SearchResult }
      if (!announced.has(frame.result.cid)) {
        announced.add(frame.result.cid)
        out.write(`  found after ${frame.atMs} ms: ${frame.result.artist} — ${frame.result.title}\n`)
      }
    } else if (event === 'done') {
      results = (JSON.parse(data) as { results: SearchResult[] }).results
    }
  }
  if (options.json === true) {
    out.write(`${JSON.stringify(results, null, 2)}\n`)
    return results
  }
  if (results.length === 0) {
    out.write(`nothing found for ${describeQuery(asked)}\n`)
    return results
  }
  out.write('\n')
  table(
    [
      ['TITLE', 'ARTIST', 'ALBUM', 'LENGTH', 'SIZE', 'PEERS', 'BEST RTT', 'CID'],
      ...results.map((r) => [
        r.title,
        r.artist,
        r.album,
        formatDuration(r.durationSec),
        formatBytes(r.size),
        String(r.providers.length),
        r.providers[0]?.rttMs === undefined ? '-' : `${r.providers[0].rttMs.toFixed(0)} ms`,
        r.cid,
      ]),
    ],
    out,
  )
  return results
}
