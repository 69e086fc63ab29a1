/**
 * The speaker page (`/speaker#token=<speaker token>`): the synced player and
 * nothing else. It holds only a restricted speaker token, which opens the
 * party's timeline, the party-clock ping and the song streams — no commands.
 * A tap is needed before sound can play (browsers require a user gesture).
 */
import { useEffect, useRef, useState } from 'react'
import type { QueueEntry, Timeline } from '../../../src/playback/timeline.ts'
import { type BrowserPlayhead, SyncedPlayer } from '../audio/synced-player.ts'

declare global {
  interface Window {
    /** The player's latest playhead (localTime on performance.now(), partyTime on the party clock), for tests and debugging. */
    __tuttiPlayhead?: () => BrowserPlayhead | undefined
  }
}

const TOKEN_KEY = 'tutti.speakerToken'

interface SpeakerState {
  partyId: string
  name: string
  timeline: { entryId: string | null; anchorPartyTime: number; anchorPosition: number; paused: boolean }
  queue: Array<{ entryId: string; cid: string; title: string; artist: string; durationSec: number }>
  nowPlaying: { entry: { title: string; artist: string } | null; playing: boolean }
  ended: boolean
}

/** Takes the token out of the fragment (so it is not left in the address bar) and keeps it for this tab. */
function speakerToken(): string | undefined {
  const match = /token=([A-Za-z0-9_-]+)/.exec(window.location.hash)
  if (match !== null) {
    sessionStorage.setItem(TOKEN_KEY, match[1])
    window.history.replaceState(null, '', window.location.pathname)
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined
}

async function call<T>(
  token: string,
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  })
  if (!res.ok) throw new Error(`${res.status} ${res.statusText}`)
  return (await res.json()) as T
}

/** Same frame rate as src/party/player-bridge.ts: every device derives the same gapless boundaries. */
const FRAME_RATE = 48_000

function toPlayer(state: SpeakerState): { timeline: Timeline | undefined; queue: QueueEntry[] } {
  const queue = state.queue.map((e) => ({
    entryId: e.entryId,
    cid: e.cid,
    duration: { frames: Math.round(e.durationSec * FRAME_RATE), sampleRate: FRAME_RATE },
  }))
  const anchor = state.queue.find((e) => e.entryId === state.timeline.entryId)
  if (anchor === undefined || state.ended) return { timeline: undefined, queue }
  return {
    timeline: { ...state.timeline, entryId: anchor.entryId, cid: anchor.cid, rate: 1 },
    queue,
  }
}

export function Speaker() {
  const [token] = useState(speakerToken)
  const [state, setState] = useState<SpeakerState | null>()
  const [started, setStarted] = useState(false)
  const [errorMs, setErrorMs] = useState<number>()
  const [problem, setProblem] = useState<string>()
  const player = useRef<SyncedPlayer>(undefined)

  useEffect(() => {
    if (token === undefined) return
    const p = new SyncedPlayer({
      pingPartyClock: async (signal) => {
        const r = await call<{ t1: number; t2: number }>(
          token,
          'POST',
          '/api/party/speaker/clock',
          { t0: 0 },
          signal,
        )
        return { t1: r.t1, t2: r.t2 }
      },
    })
    player.current = p
    p.start()
    const off = p.onPlayhead((ph) => setErrorMs(ph.errorMs))
    window.__tuttiPlayhead = () => p.playhead()
    return () => {
      off()
      delete window.__tuttiPlayhead
      p.stop()
    }
  }, [token])

  useEffect(() => {
    if (token === undefined) return
    const controller = new AbortController()
    let lastKey = ''
    const load = () =>
      call<{ party: SpeakerState | null }>(
        token,
        'GET',
        '/api/party/speaker/state',
        undefined,
        controller.signal,
      ).then(
        (b) => {
          setProblem(undefined)
          setState(b.party)
          const key =
            b.party === null ? '' : JSON.stringify([b.party.timeline, b.party.queue.map((e) => e.entryId)])
          if (key !== lastKey) {
            lastKey = key
            const { timeline, queue } =
              b.party === null ? { timeline: undefined, queue: [] } : toPlayer(b.party)
            const songUrl = (cid: string) =>
              `/api/songs/${encodeURIComponent(cid)}/stream?token=${encodeURIComponent(token)}`
            player.current?.setTimeline(timeline, songUrl, queue)
          }
        },
        (err: Error) => {
          if (err.name !== 'AbortError') setProblem('Cannot reach the party node — is the link still valid?')
        },
      )
    void load()
    const timer = setInterval(load, 1_000)
    return () => {
      controller.abort()
      clearInterval(timer)
    }
  }, [token])

  if (token === undefined)
    return <main className="speaker">This speaker link has no token. Ask for a new one.</main>
  const now = state?.nowPlaying
  return (
    <main className="speaker" style={{ textAlign: 'center', padding: 24 }}>
      <h1>{state?.name ?? 'Tutti speaker'}</h1>
      {problem !== undefined && <p role="alert">{problem}</p>}
      {state === null && <p>No party is running on this node.</p>}
      {now?.entry != null && (
        <p>
          <strong>{now.entry.title}</strong> — {now.entry.artist} {now.playing ? '' : '(paused)'}
        </p>
      )}
      {!started ? (
        <button
          type="button"
          style={{ fontSize: '1.5em', padding: '16px 32px' }}
          onClick={() => {
            void player.current?.resume().then(() => setStarted(true))
          }}
        >
          Tap to play along
        </button>
      ) : (
        <p className="muted">
          Playing in sync
          {errorMs === undefined ? '' : ` (${errorMs >= 0 ? '+' : ''}${errorMs.toFixed(1)} ms)`}
        </p>
      )}
    </main>
  )
}
