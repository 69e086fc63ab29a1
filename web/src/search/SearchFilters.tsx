/**
 * The Search page's "Filters" disclosure: title, artist, album and a length
 * range, the fields GET /api/search/stream takes besides free text. Lengths
 * are typed as seconds or m:ss.
 */
import { useState } from 'react'
import { parseDuration } from '../../../src/search/query-params.ts'
import type { SearchQuery } from '../../../src/search/search.ts'

export interface SearchFilterValues {
  title: string
  artist: string
  album: string
  minLength: string
  maxLength: string
}

/** The query the page's text and filters ask for; `problem` says what is wrong with a length. */
export function toQuery(text: string, filters: SearchFilterValues): { query: SearchQuery; problem?: string } {
  const trimmed = (v: string) => (v.trim() === '' ? undefined : v.trim())
  const length = (label: string, value: string): { seconds?: number; problem?: string } => {
    if (value.trim() === '') return {}
    const seconds = parseDuration(value)
    return seconds === undefined || seconds > 86_400
      ? { problem: `${label}: type seconds (90) or minutes:seconds (1:30)` }
      : { seconds }
  }
  const min = length('Min length', filters.minLength)
  const max = length('Max length', filters.maxLength)
  const query: SearchQuery = {
    text: trimmed(text),
    title: trimmed(filters.title),
    artist: trimmed(filters.artist),
    album: trimmed(filters.album),
    minDurationSec: min.seconds,
    maxDurationSec: max.seconds,
  }
  const backwards =
    min.seconds !== undefined && max.seconds !== undefined && min.seconds > max.seconds
      ? 'Min length is longer than max length'
      : undefined
  return { query, problem: min.problem ?? max.problem ?? backwards }
}

/** A search needs words somewhere: a length range alone would list every library. */
export function hasTerms(query: SearchQuery): boolean {
  return [query.text, query.title, query.artist, query.album].some((t) => t !== undefined)
}

const FIELDS: Array<{ key: keyof SearchFilterValues; label: string; placeholder: string }> = [
  { key: 'title', label: 'Title', placeholder: 'any' },
  { key: 'artist', label: 'Artist', placeholder: 'any' },
  { key: 'album', label: 'Album', placeholder: 'any' },
  { key: 'minLength', label: 'Min length', placeholder: '0:00' },
  { key: 'maxLength', label: 'Max length', placeholder: '99:00' },
]

export function SearchFilters({
  form,
  values,
  onChange,
  problem,
}: {
  /** The search form's id: Enter in a filter submits it. */
  form: string
  values: SearchFilterValues
  onChange: (values: SearchFilterValues) => void
  problem?: string
}) {
  const active = FIELDS.filter((f) => values[f.key].trim() !== '').length
  // Open at first when the address brought filters; the user opens and closes it after that.
  const [initiallyOpen] = useState(active > 0)
  return (
    <details className="search-filters" open={initiallyOpen}>
      <summary>Filters{active > 0 && ` (${active})`}</summary>
      <div className="search-filter-fields">
        {FIELDS.map((f) => (
          <label key={f.key}>
            <span className="muted small">{f.label}</span>
            <input
              form={form}
              type="text"
              size={f.key.endsWith('Length') ? 6 : 14}
              placeholder={f.placeholder}
              aria-label={`Filter: ${f.label}`}
              value={values[f.key]}
              onChange={(e) => onChange({ ...values, [f.key]: e.target.value })}
            />
          </label>
        ))}
        {active > 0 && (
          <button
            type="button"
            onClick={() => onChange({ title: '', artist: '', album: '', minLength: '', maxLength: '' })}
          >
            Clear
          </button>
        )}
      </div>
      {problem !== undefined && <p className="error-text">{problem}</p>}
    </details>
  )
}
