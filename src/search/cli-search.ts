/**
 * `tutti search <text>` and `tutti party list` (public parties from the
 * directory), as functions the CLI (src/cli) hooks up. Both talk to the
 * running node through its local API (src/api/routes/search.ts).
 *
 *   tutti search <text> [--ttl N] [--timeout ms] [--json]
 *     prints each song as the first peer answers, then the ranked table
 *   tutti party list [--json]
 */
import type { ApiClient } from '../cli/api-client.ts'
import { formatBytes, formatDuration, table } from '../cli/output.ts'
import { TuttiError } from '../shared/errors.ts'
import type { SearchResult } from './rank.ts'

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
  text: string,
  options: SearchCommandOptions = {},
): Promise<SearchResult[]> {
  const out = options.out ?? process.stdout
  const params = new URLSearchParams({ q: text })
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
    out.write(`nothing found for "${text}"\n`)
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
