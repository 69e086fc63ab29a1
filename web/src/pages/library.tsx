/** Library: the node's songs, a filter box, and a play button per song. Updates live as the scan finds songs. */
import { useCallback, useEffect, useState } from 'react'
import { ApiError, api, type Song } from '../api.ts'
import { formatBytes, formatDuration } from '../format.ts'
import { useNodeEvent } from '../node-context.tsx'
import type { PageProps } from '../pages.ts'
import { usePlayer } from '../player.tsx'

export function LibraryPage(_props: PageProps) {
  const [filter, setFilter] = useState('')
  const [songs, setSongs] = useState<Song[]>()
  const [total, setTotal] = useState(0)
  const [error, setError] = useState<string>()
  const [scan, setScan] = useState<{ done: number; total: number }>()
  const [generation, setGeneration] = useState(0)
  const player = usePlayer()

  const refresh = useCallback(() => setGeneration((g) => g + 1), [])

  // biome-ignore lint/correctness/useExhaustiveDependencies: `generation` is bumped to refetch
  useEffect(() => {
    const controller = new AbortController()
    // Debounce typing; a new keystroke aborts the request in flight.
    const timer = setTimeout(() => {
      api.library(filter, controller.signal).then(
        (body) => {
          setSongs(body.songs)
          setTotal(body.total)
          setError(undefined)
        },
        (err: Error) => {
          if (err.name !== 'AbortError') setError(err instanceof ApiError ? err.message : String(err))
        },
      )
    }, 120)
    return () => {
      clearTimeout(timer)
      controller.abort()
    }
  }, [filter, generation])

  useNodeEvent(['song:added', 'song:removed'], refresh)
  useNodeEvent('scan:progress', (frame) =>
    setScan({ done: frame.payload.filesDone, total: frame.payload.filesTotal }),
  )
  useNodeEvent('scan:done', () => {
    setScan(undefined)
    refresh()
  })

  const rescan = () => {
    setScan({ done: 0, total: 0 })
    api.rescan().catch((err: Error) => {
      setScan(undefined)
      setError(err.message)
    })
  }

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Library</h1>
          <p className="muted">
            {songs === undefined
              ? 'Loading…'
              : filter.trim() === ''
                ? `${total} ${total === 1 ? 'song' : 'songs'}`
                : `${songs.length} of ${total} songs match`}
          </p>
        </div>
        <div className="toolbar">
          <input
            type="search"
            className="filter"
            placeholder="Filter by title, artist, album…"
            aria-label="Filter songs"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
          />
          <button type="button" className="button" onClick={rescan} disabled={scan !== undefined}>
            {scan === undefined
              ? 'Rescan'
              : scan.total > 0
                ? `Scanning ${scan.done}/${scan.total}`
                : 'Scanning…'}
          </button>
        </div>
      </header>

      {error !== undefined && <div className="banner error">{error}</div>}

      {songs !== undefined && songs.length === 0 ? (
        <div className="empty-state">
          <p>{filter.trim() === '' ? 'No songs yet.' : `Nothing matches “${filter}”.`}</p>
          {filter.trim() === '' && (
            <p className="muted">
              Start the node with <code>--library ~/Music</code> to share your music.
            </p>
          )}
        </div>
      ) : (
        <table className="table songs">
          <thead>
            <tr>
              <th className="col-play" aria-label="Play" />
              <th>Title</th>
              <th>Artist</th>
              <th className="col-album">Album</th>
              <th className="num">Time</th>
              <th className="col-format">Format</th>
              <th className="num col-size">Size</th>
            </tr>
          </thead>
          <tbody>
            {(songs ?? []).map((song) => {
              const isCurrent = player.current?.cid === song.cid
              const isPlaying = isCurrent && player.playing
              return (
                <tr key={song.cid} className={isCurrent ? 'current' : undefined} data-cid={song.cid}>
                  <td className="col-play">
                    <button
                      type="button"
                      className={`play-button${isPlaying ? ' playing' : ''}`}
                      aria-label={isPlaying ? `Pause ${song.title}` : `Play ${song.title}`}
                      title={isPlaying ? 'Pause' : 'Play'}
                      onClick={() => (isCurrent ? player.toggle() : player.play(song))}
                    >
                      {isPlaying ? <PauseIcon /> : <PlayIcon />}
                    </button>
                  </td>
                  <td className="title-cell" title={song.path}>
                    {song.title}
                  </td>
                  <td>{song.artist || <span className="muted">Unknown</span>}</td>
                  <td className="col-album">{song.album || <span className="muted">—</span>}</td>
                  <td className="num">{formatDuration(song.durationSec)}</td>
                  <td className="col-format">
                    <span className="tag">{song.format}</span>
                  </td>
                  <td className="num col-size">{formatBytes(song.size)}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
    </section>
  )
}

function PlayIcon() {
  return (
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
      <path d="M8 5.5v13l11-6.5z" fill="currentColor" />
    </svg>
  )
}

function PauseIcon() {
  return (
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
      <path d="M7 5h4v14H7zM13 5h4v14h-4z" fill="currentColor" />
    </svg>
  )
}
