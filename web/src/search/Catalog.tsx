/**
 * Another peer's shared library, one sorted page at a time
 * (GET /api/peers/:peerId/catalog), with Download and Queue in party per
 * song. Shown at `#/peers/<peerId>?sort=&desc=&page=&limit=`: sort and page
 * live in the address, so Back and reload keep the place.
 */
import { useEffect, useState } from 'react'
import type { CatalogPage } from '../../../src/search/catalog.ts'
import type { CatalogSort } from '../../../src/search/schema.ts'
import { ApiError, api } from '../api.ts'
import { formatBytes, formatDuration, shortPeerId } from '../format.ts'
import { downloadSong, queueInParty } from './song-actions.ts'

const DEFAULT_LIMIT = 50
const MAX_LIMIT = 200

interface CatalogView {
  sort: CatalogSort
  desc: boolean
  /** 1-based. */
  page: number
  limit: number
}

const COLUMNS: Array<{ sort: CatalogSort; label: string; className?: string }> = [
  { sort: 'title', label: 'Title' },
  { sort: 'artist', label: 'Artist' },
  { sort: 'album', label: 'Album' },
  { sort: 'duration', label: 'Length', className: 'num' },
]

function whole(value: string | null, fallback: number, max: number): number {
  const n = Number(value)
  return Number.isInteger(n) && n >= 1 ? Math.min(n, max) : fallback
}

function viewOf(query: URLSearchParams): CatalogView {
  const sort = COLUMNS.find((c) => c.sort === query.get('sort'))?.sort ?? 'artist'
  return {
    sort,
    desc: query.get('desc') === 'true',
    page: whole(query.get('page'), 1, 1_000_000),
    limit: whole(query.get('limit'), DEFAULT_LIMIT, MAX_LIMIT),
  }
}

/** Where "Browse library" leads for `peerId`. */
export function catalogHref(peerId: string, view: Partial<CatalogView> = {}): string {
  const params = new URLSearchParams()
  if (view.sort !== undefined) params.set('sort', view.sort)
  if (view.desc === true) params.set('desc', 'true')
  if (view.page !== undefined && view.page > 1) params.set('page', String(view.page))
  if (view.limit !== undefined && view.limit !== DEFAULT_LIMIT) params.set('limit', String(view.limit))
  const rest = params.toString()
  return `#/peers/${encodeURIComponent(peerId)}${rest === '' ? '' : `?${rest}`}`
}

function explain(err: Error): string {
  if (err instanceof ApiError && err.code === 'CATALOG_REFUSED') return 'This peer shares nothing with you.'
  return err.message
}

export function PeerCatalog({ peerId, query }: { peerId: string; query: URLSearchParams }) {
  const view = viewOf(query)
  const [data, setData] = useState<CatalogPage>()
  const [error, setError] = useState<string>()
  const [loading, setLoading] = useState(true)
  const [notice, setNotice] = useState<string>()

  const { sort, desc, page, limit } = view
  useEffect(() => {
    const controller = new AbortController()
    const params = new URLSearchParams({
      offset: String((page - 1) * limit),
      limit: String(limit),
      sort,
      desc: String(desc),
    })
    setLoading(true)
    api
      .get<CatalogPage>(`/api/peers/${encodeURIComponent(peerId)}/catalog?${params}`, controller.signal)
      .then(
        (body) => {
          setData(body)
          setError(undefined)
        },
        (err: Error) => {
          if (err.name !== 'AbortError') setError(explain(err))
        },
      )
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false)
      })
    return () => controller.abort()
  }, [peerId, sort, desc, page, limit])

  const go = (change: Partial<CatalogView>) => {
    window.location.hash = catalogHref(peerId, { ...view, ...change })
  }
  const sortBy = (column: CatalogSort) => go({ sort: column, desc: column === sort ? !desc : false, page: 1 })

  const pages = data === undefined ? 1 : Math.max(1, Math.ceil(data.total / limit))
  const summary =
    data === undefined
      ? loading
        ? 'Loading…'
        : ''
      : data.songs.length === 0
        ? `${data.total} ${data.total === 1 ? 'song' : 'songs'}`
        : `Songs ${data.offset + 1}–${data.offset + data.songs.length} of ${data.total} · page ${page} of ${pages}`

  return (
    <section className="page catalog">
      <header className="page-header">
        <div>
          <h1>
            Library of <span title={peerId}>{shortPeerId(peerId)}</span>
          </h1>
          <p className="muted" aria-live="polite">
            {summary}
          </p>
        </div>
        <div className="toolbar">
          <a className="button" href="#/peers">
            All peers
          </a>
        </div>
      </header>
      {error !== undefined && <div className="banner error">{error}</div>}
      {notice !== undefined && <p className="notice">{notice}</p>}
      {data !== undefined && data.songs.length > 0 && (
        <div className="table-wrap">
          <table className="table songs catalog-songs">
            <thead>
              <tr>
                {COLUMNS.map((c) => (
                  <th
                    key={c.sort}
                    className={c.className}
                    aria-sort={c.sort === sort ? (desc ? 'descending' : 'ascending') : undefined}
                  >
                    <button type="button" className="sort-header" onClick={() => sortBy(c.sort)}>
                      {c.label}
                      {c.sort === sort && (desc ? ' ▼' : ' ▲')}
                    </button>
                  </th>
                ))}
                <th className="num">Size</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.songs.map((s) => (
                <tr key={s.cid} data-cid={s.cid}>
                  <td className="title-cell">{s.title}</td>
                  <td>{s.artist}</td>
                  <td>{s.album}</td>
                  <td className="num">{formatDuration(s.durationSec)}</td>
                  <td className="num">{formatBytes(s.size)}</td>
                  <td className="actions">
                    <button type="button" onClick={() => void downloadSong(s, [peerId]).then(setNotice)}>
                      Download
                    </button>{' '}
                    <button type="button" onClick={() => void queueInParty(s).then(setNotice)}>
                      Queue in party
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data !== undefined && data.total > 0 && (
        <nav className="pager" aria-label="Pages">
          <button type="button" disabled={page <= 1 || loading} onClick={() => go({ page: page - 1 })}>
            Previous
          </button>
          <span className="muted">
            page {page} of {pages}
          </span>
          <button type="button" disabled={page >= pages || loading} onClick={() => go({ page: page + 1 })}>
            Next
          </button>
        </nav>
      )}
    </section>
  )
}
