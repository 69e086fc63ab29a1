/**
 * A search query as the API's query string (field names of
 * src/api/routes/search.ts). Pure, so the CLI and the web UI build the same one.
 */
import type { SearchQuery } from './search.ts'

export function searchParams(query: SearchQuery): URLSearchParams {
  const params = new URLSearchParams()
  const fields: Array<[string, string | number | undefined]> = [
    ['q', query.text],
    ['title', query.title],
    ['artist', query.artist],
    ['album', query.album],
    ['minDurationSec', query.minDurationSec],
    ['maxDurationSec', query.maxDurationSec],
  ]
  for (const [name, value] of fields) if (value !== undefined && value !== '') params.set(name, String(value))
  return params
}

/** Seconds from `90`, `1:30` or `1:02:03`; undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const parts = text.trim().split(':')
  if (parts.length > 3 || !parts.every((p) => /^\d+(\.\d+)?$/.test(p))) return undefined
  return parts.reduce((total, part) => total * 60 + Number(part), 0)
}
