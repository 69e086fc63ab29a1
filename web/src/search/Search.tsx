/**
 * Network search: results stream in as peers answer (Server-Sent Events from
 * GET /api/search/stream), grouped by song with how many peers have it and
 * the fastest one's round-trip time; one click downloads a song from all of
 * them, queues it in the party, or browses a provider's library. "Filters"
 * narrows by title/artist/album and length. Below: public parties from the
 * directory, and whether this node is reachable from outside.
 */
import { type FormEvent, useEffect, useRef, useState } from 'react'
import type { PublicParty } from '../../../src/directory/party-table.ts'
import { searchParams } from '../../../src/search/query-params.ts'
import type { SearchResult } from '../../../src/search/rank.ts'
import type { Reachability } from '../../../src/search/reachability.ts'
import { api, apiToken } from '../api.ts'
import { formatBytes, formatDuration, shortPeerId } from '../format.ts'
import type { PageProps } from '../pages.ts'
import { catalogHref } from './Catalog.tsx'
import { hasTerms, SearchFilters, type SearchFilterValues, toQuery } from './SearchFilters.tsx'
import { downloadSong, queueInParty } from './song-actions.ts'

type Phase = 'idle' | 'searching' | 'done'

function bestRtt(result: SearchResult): string {
  const rtt = result.providers[0]?.rttMs
  return rtt === undefined ? '…' : `${rtt.toFixed(0)} ms`
}

/** "Browse library" for one provider, or a short list to pick from when several have the song. */
function BrowseProviders({ result }: { result: SearchResult }) {
  const [only] = result.providers
  if (result.providers.length === 1)
    return (
      <a className="browse-link" href={catalogHref(only.peerId)} title={`Browse ${only.peerId}'s library`}>
        Browse library
      </a>
    )
  return (
    <details className="browse-providers">
      <summary>Browse library</summary>
      <ul>
        {result.providers.map((p) => (
          <li key={p.peerId}>
            <a href={catalogHref(p.peerId)} title={p.peerId}>
              {shortPeerId(p.peerId)}
            </a>
          </li>
        ))}
      </ul>
    </details>
  )
}

export function SearchPage({ query }: PageProps) {
  const [text, setText] = useState(query.get('q') ?? '')
  const [filters, setFilters] = useState<SearchFilterValues>(() => ({
    title: query.get('title') ?? '',
    artist: query.get('artist') ?? '',
    album: query.get('album') ?? '',
    minLength: '',
    maxLength: '',
  }))
  const [ttl, setTtl] = useState(4)
  const [phase, setPhase] = useState<Phase>('idle')
  const [results, setResults] = useState<SearchResult[]>([])
  const [firstMs, setFirstMs] = useState<number>()
  const [error, setError] = useState<string>()
  const [notice, setNotice] = useState<string>()
  const [parties, setParties] = useState<PublicParty[]>([])
  const [reach, setReach] = useState<Reachability>()
  const source = useRef<EventSource | undefined>(undefined)

  useEffect(() => () => source.current?.close(), [])

  useEffect(() => {
    const controller = new AbortController()
    const load = () => {
      api.get<{ parties: PublicParty[] }>('/api/directory/parties', controller.signal).then(
        (body) => setParties(body.parties),
        () => {},
      )
      api.get<Reachability>('/api/network/reachability', controller.signal).then(setReach, () => {})
    }
    load()
    const timer = setInterval(load, 5_000)
    return () => {
      clearInterval(timer)
      controller.abort()
    }
  }, [])

  const { query: asked, problem } = toQuery(text, filters)
  const canSearch = problem === undefined && hasTerms(asked)

  const start = (event: FormEvent) => {
    event.preventDefault()
    source.current?.close()
    if (!canSearch) return
    setResults([])
    setFirstMs(undefined)
    setError(undefined)
    setPhase('searching')
    const params = searchParams(asked)
    params.set('ttl', String(ttl))
    params.set('token', apiToken() ?? '')
    const es = new EventSource(`/api/search/stream?${params}`)
    source.current = es
    // Groups by content id, kept in arrival order until the final ranking arrives.
    const groups = new Map<string, SearchResult>()
    es.addEventListener('hit', (e) => {
      const frame = JSON.parse((e as MessageEvent).data) as { atMs: number; result: SearchResult }
      groups.set(frame.result.cid, frame.result)
      setFirstMs((ms) => ms ?? frame.atMs)
      setResults(
        [...groups.values()].sort((a, b) => b.score - a.score || b.providers.length - a.providers.length),
      )
    })
    es.addEventListener('done', (e) => {
      const done = JSON.parse((e as MessageEvent).data) as { results: SearchResult[] }
      setResults(done.results)
      setPhase('done')
      es.close()
    })
    es.onerror = () => {
      // The server closes the stream after `done`; an error before that is a real failure.
      if (es.readyState === EventSource.CLOSED || source.current !== es) return
      es.close()
      setPhase((p) => {
        if (p === 'searching') setError('the search stream broke off (is the node running?)')
        return 'done'
      })
    }
  }

  const download = (result: SearchResult) =>
    void downloadSong(
      result,
      result.providers.map((p) => p.peerId),
    ).then(setNotice)

  const queue = (result: SearchResult) => void queueInParty(result).then(setNotice)

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Search the network</h1>
          <p className="muted">
            {phase === 'idle' && 'Every peer within reach answers from its shared library.'}
            {phase === 'searching' &&
              `Searching… ${results.length} ${results.length === 1 ? 'song' : 'songs'} so far${firstMs === undefined ? '' : ` (first after ${firstMs} ms)`}`}
            {phase === 'done' && `${results.length} ${results.length === 1 ? 'song' : 'songs'} found`}
          </p>
        </div>
        <form className="toolbar" id="search-form" onSubmit={start}>
          <input
            type="search"
            className="filter"
            placeholder="Title, artist, album…"
            aria-label="Search text"
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
          <label className="muted">
            reach{' '}
            <select value={ttl} onChange={(e) => setTtl(Number(e.target.value))} aria-label="Hops (TTL)">
              {[1, 2, 3, 4, 5, 6, 7].map((n) => (
                <option key={n} value={n}>
                  {n} {n === 1 ? 'hop' : 'hops'}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={!canSearch}>
            Search
          </button>
        </form>
      </header>
      <SearchFilters form="search-form" values={filters} onChange={setFilters} problem={problem} />
      {error !== undefined && <p className="error">{error}</p>}
      {notice !== undefined && <p className="notice">{notice}</p>}
      {results.length > 0 && (
        <table className="songs">
          <thead>
            <tr>
              <th>Title</th>
              <th>Artist</th>
              <th>Album</th>
              <th>Length</th>
              <th>Size</th>
              <th title="Peers that have it">Peers</th>
              <th title="Round-trip time of the fastest peer">RTT</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {results.map((r) => (
              <tr key={r.cid} data-cid={r.cid}>
                <td>{r.title}</td>
                <td>{r.artist}</td>
                <td>{r.album}</td>
                <td>{formatDuration(r.durationSec)}</td>
                <td>{formatBytes(r.size)}</td>
                <td
                  title={r.providers
                    .map((p) => `${shortPeerId(p.peerId)} · ${p.hops} hop(s) · load ${p.load}`)
                    .join('\n')}
                >
                  {r.providers.length}
                </td>
                <td>{bestRtt(r)}</td>
                <td className="actions">
                  <button type="button" onClick={() => download(r)}>
                    Download
                  </button>{' '}
                  <button type="button" onClick={() => queue(r)}>
                    Queue in party
                  </button>{' '}
                  <BrowseProviders result={r} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Public parties</h2>
      {parties.length === 0 ? (
        <p className="muted">No public party announced nearby right now.</p>
      ) : (
        <ul className="parties">
          {parties.map((p) => (
            <li key={`${p.host.peerId}/${p.partyId}`}>
              <strong>{p.name}</strong> · {p.members} {p.members === 1 ? 'member' : 'members'} ·{' '}
              {p.joinPolicy}
              {p.nowPlaying !== undefined && (
                <span className="muted">
                  {' '}
                  · now playing {p.nowPlaying.title} — {p.nowPlaying.artist}
                </span>
              )}{' '}
              <span className="muted">host {shortPeerId(p.host.peerId)}</span>
            </li>
          ))}
        </ul>
      )}
      {reach !== undefined && (
        <p className="muted">
          This node is{' '}
          {reach.status === 'public'
            ? 'reachable from the internet'
            : reach.status === 'private'
              ? 'behind NAT'
              : 'of unknown reachability'}
          {reach.relayAddrs.length > 0 && ` · reachable through ${reach.relayAddrs.length} relay address(es)`}
        </p>
      )}
    </section>
  )
}
