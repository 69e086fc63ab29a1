/**
 * The speaker page (`/speaker#token=<speaker token>`): the synced player and
 * nothing else. It holds only a restricted speaker token, which opens the
 * party's timeline, the party-clock ping and the song streams — no commands.
 * A tap is needed before sound can play (browsers require a user gesture).
 */
import { useEffect, useState } from 'react'
import { OffsetControl, type PartyTimelineState, syncText, usePartyPlayer } from './party-player.tsx'

const TOKEN_KEY = 'tutti.speakerToken'

interface SpeakerState extends PartyTimelineState {
  partyId: string
  name: string
  queue: Array<{ entryId: string; cid: string; title: string; artist: string; durationSec: number }>
  nowPlaying: { entry: { title: string; artist: string } | null; playing: boolean }
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

export function Speaker() {
  const [token] = useState(speakerToken)
  const [state, setState] = useState<SpeakerState | null>()
  const [problem, setProblem] = useState<string>()
  const player = usePartyPlayer({
    enabled: token !== undefined,
    party: state,
    pingPartyClock: async (signal) => {
      const r = await call<{ t1: number; t2: number }>(
        token ?? '',
        'POST',
        '/api/party/speaker/clock',
        { t0: 0 },
        signal,
      )
      return { t1: r.t1, t2: r.t2 }
    },
    songUrl: (cid) => `/api/songs/${encodeURIComponent(cid)}/stream?token=${encodeURIComponent(token ?? '')}`,
  })

  useEffect(() => {
    if (token === undefined) return
    const controller = new AbortController()
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
      {!player.started ? (
        <button
          type="button"
          style={{ fontSize: '1.5em', padding: '16px 32px' }}
          onClick={() => void player.start()}
        >
          Tap to play along
        </button>
      ) : (
        <p className="muted">{syncText(player)}</p>
      )}
      <OffsetControl player={player} />
    </main>
  )
}
