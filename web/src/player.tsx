/**
 * The browser's own player for the library: an <audio> element streaming a
 * song from the node over HTTP Range, in a bar at the bottom of every page.
 * (Party playback in sync is the Web Audio player in web/src/audio/.)
 */
import { createContext, type ReactNode, useContext, useEffect, useRef, useState } from 'react'
import { type Song, songStreamUrl } from './api.ts'

interface PlayerContextValue {
  current: Song | undefined
  playing: boolean
  error: string | undefined
  play(song: Song): void
  toggle(): void
}

const PlayerContext = createContext<PlayerContextValue | undefined>(undefined)

export function PlayerProvider({ children }: { children: ReactNode }) {
  const audio = useRef<HTMLAudioElement>(null)
  const [current, setCurrent] = useState<Song>()
  const [playing, setPlaying] = useState(false)
  const [error, setError] = useState<string>()

  useEffect(() => {
    const element = audio.current
    if (element === null || current === undefined) return
    setError(undefined)
    element.src = songStreamUrl(current.cid)
    element.play().catch((err: Error) => {
      if (err.name !== 'AbortError') setError(err.message)
    })
  }, [current])

  const value: PlayerContextValue = {
    current,
    playing,
    error,
    play: (song) => {
      if (song.cid === current?.cid) {
        void audio.current?.play()
        return
      }
      setCurrent(song)
    },
    toggle: () => {
      const element = audio.current
      if (element === null) return
      if (element.paused) void element.play()
      else element.pause()
    },
  }

  return (
    <PlayerContext.Provider value={value}>
      {children}
      <section className={`now-playing${current === undefined ? ' idle' : ''}`} aria-label="Now playing">
        <div className="now-playing-info">
          {current === undefined ? (
            <span className="muted">Pick a song to play it here</span>
          ) : (
            <>
              <span className="now-playing-title">{current.title}</span>
              <span className="muted">
                {current.artist}
                {current.album ? ` — ${current.album}` : ''}
              </span>
            </>
          )}
          {error !== undefined && <span className="error-text">Cannot play: {error}</span>}
        </div>
        {/* biome-ignore lint/a11y/useMediaCaption: music from the user's own library has no captions */}
        <audio
          ref={audio}
          id="player"
          controls
          preload="none"
          onPlay={() => setPlaying(true)}
          onPause={() => setPlaying(false)}
          onEnded={() => setPlaying(false)}
          onError={() => current !== undefined && setError('the node could not stream this song')}
        />
      </section>
    </PlayerContext.Provider>
  )
}

export function usePlayer(): PlayerContextValue {
  const value = useContext(PlayerContext)
  if (value === undefined) throw new Error('usePlayer() outside <PlayerProvider>')
  return value
}
