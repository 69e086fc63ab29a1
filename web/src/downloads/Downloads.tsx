/**
 * Downloads: every song this node is fetching from the swarm — progress,
 * rate, ETA, and which peers are serving it — with pause, resume, cancel, a
 * box to start a download by song id, and a play link that streams a song
 * while it is still arriving.
 */
import { type FormEvent, useState } from 'react'
import type { DownloadInfo } from '../../../src/swarm/types.ts'
import { api, songStreamUrl } from '../api.ts'
import { formatBytes, formatDuration, shortPeerId } from '../format.ts'
import type { PageProps } from '../pages.ts'
import { usePolled } from '../use-polled.ts'

const REFRESH_MS = 1_000

const fetchDownloads = (signal?: AbortSignal) =>
  api.get<{ downloads: DownloadInfo[] }>('/api/downloads', signal)

function stateLabel(d: DownloadInfo): string {
  if (d.state === 'downloading') return `${d.percent.toFixed(0)} %`
  return d.state
}

function ProgressBar({ percent }: { percent: number }) {
  return (
    <div
      role="progressbar"
      aria-valuenow={Math.round(percent)}
      aria-valuemin={0}
      aria-valuemax={100}
      style={{ height: 6, borderRadius: 3, background: 'rgba(127,127,127,0.25)', minWidth: 120 }}
    >
      <div
        style={{
          width: `${Math.min(100, Math.max(0, percent))}%`,
          height: '100%',
          borderRadius: 3,
          background: 'currentColor',
          transition: 'width 0.3s',
        }}
      />
    </div>
  )
}

export function DownloadsPage(_props: PageProps) {
  // Progress changes many times a second; a gentle poll keeps the page simple and cheap.
  const { data, error, setError, reload: load } = usePolled(fetchDownloads, REFRESH_MS)
  const downloads = data?.downloads
  const [cid, setCid] = useState('')

  const act = (promise: Promise<unknown>) =>
    promise.then(
      () => load(),
      (err: Error) => setError(err.message),
    )

  const start = (event: FormEvent) => {
    event.preventDefault()
    const id = cid.trim()
    if (id === '') return
    act(api.post('/api/downloads', { cid: id }).then(() => setCid('')))
  }

  const active = downloads?.filter((d) => d.state !== 'done').length ?? 0
  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Downloads</h1>
          <p className="muted">
            {downloads === undefined ? 'Loading…' : `${active} active · ${downloads.length} this session`}
          </p>
        </div>
        <form onSubmit={start} style={{ display: 'flex', gap: 8 }}>
          <input
            aria-label="Song id"
            placeholder="Song id (bafy…)"
            value={cid}
            onChange={(e) => setCid(e.target.value)}
            className="mono"
            style={{ minWidth: 280 }}
          />
          <button type="submit" className="button" disabled={cid.trim() === ''}>
            Download
          </button>
        </form>
      </header>
      {error !== undefined && <div className="banner error">{error}</div>}
      {downloads !== undefined && downloads.length === 0 ? (
        <div className="empty-state">
          <p>No downloads yet.</p>
          <p className="muted">
            Songs found on other nodes are fetched from every peer that has them, piece by verified piece; you
            can play one while it arrives.
          </p>
        </div>
      ) : (
        <div className="table-wrap">
          <table className="table downloads">
            <thead>
              <tr>
                <th>Song</th>
                <th>Progress</th>
                <th className="num">Size</th>
                <th className="num">Rate</th>
                <th className="num">ETA</th>
                <th>Serving peers</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {(downloads ?? []).map((d) => (
                <tr key={d.cid}>
                  <td className="mono" title={d.cid}>
                    {shortPeerId(d.cid)}
                    {d.error !== undefined && <div className="muted">{d.error}</div>}
                  </td>
                  <td>
                    <ProgressBar percent={d.percent} />
                    <span className={`pill ${d.state === 'done' ? 'ok' : 'idle'}`}>{stateLabel(d)}</span>
                  </td>
                  <td className="num">{d.size === undefined ? '–' : formatBytes(d.size)}</td>
                  <td className="num">{d.state === 'downloading' ? `${formatBytes(d.rateBps)}/s` : '–'}</td>
                  <td className="num">{d.etaSec === undefined ? '–' : formatDuration(d.etaSec)}</td>
                  <td>
                    {d.sources.length === 0 ? (
                      <span className="muted">{d.peers > 0 ? `${d.peers} connected` : '–'}</span>
                    ) : (
                      d.sources.slice(0, 4).map((s) => (
                        <div key={s.peerId} className="mono" title={s.peerId}>
                          {shortPeerId(s.peerId)} · {formatBytes(s.rateBps)}/s{s.choked ? ' (choked)' : ''}
                        </div>
                      ))
                    )}
                    {d.banned.length > 0 && (
                      <div className="muted">{d.banned.length} banned (bad pieces)</div>
                    )}
                  </td>
                  <td style={{ whiteSpace: 'nowrap' }}>
                    {(d.state === 'downloading' || d.state === 'done') && (
                      <a
                        className="button small"
                        href={songStreamUrl(d.cid)}
                        target="_blank"
                        rel="noreferrer"
                      >
                        Play
                      </a>
                    )}{' '}
                    {(d.state === 'downloading' || d.state === 'finding') && (
                      <button
                        type="button"
                        className="button small"
                        onClick={() => act(api.post(`/api/downloads/${d.cid}/pause`))}
                      >
                        Pause
                      </button>
                    )}
                    {d.state === 'paused' && (
                      <button
                        type="button"
                        className="button small"
                        onClick={() => act(api.post(`/api/downloads/${d.cid}/resume`))}
                      >
                        Resume
                      </button>
                    )}{' '}
                    {d.state !== 'done' && (
                      <button
                        type="button"
                        className="button small"
                        onClick={() => act(api.delete(`/api/downloads/${d.cid}`))}
                      >
                        Cancel
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}
