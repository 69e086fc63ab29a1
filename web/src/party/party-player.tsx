/**
 * The party's timeline played in this browser, shared by the speaker page
 * (Speaker.tsx, speaker token) and the party room (PartyRoom.tsx, full API
 * token): one SyncedPlayer (web/src/audio/synced-player.ts) on the node's
 * party clock, fed the party state each page polls, its playhead exposed as
 * `window.__tuttiPlayhead` (tests, debugging) and its error shown on the page.
 * Sound starts only from a user gesture (`start()`), as browsers require.
 * The per-device delay (`OffsetControl`) is the player's manual offset, kept
 * in this browser's localStorage.
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

/** What both pages poll from their node: the timeline in force, the queue and whether the party ended. */
export interface PartyTimelineState {
  timeline: { entryId: string | null; anchorPartyTime: number; anchorPosition: number; paused: boolean }
  queue: ReadonlyArray<{ entryId: string; cid: string; durationSec: number }>
  ended: boolean
}

/** Same frame rate as src/party/player-bridge.ts: every device derives the same gapless boundaries. */
const FRAME_RATE = 48_000

/** The party state as the player's timeline and queue (no timeline: silence). */
export function toPlayer(state: PartyTimelineState): { timeline: Timeline | undefined; queue: QueueEntry[] } {
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

export interface PartyPlayerOptions {
  /** The party as last polled (null: no party; undefined: not known yet). */
  party: PartyTimelineState | null | undefined
  /** One party-clock ping to this page's node: t1 = request arrived, t2 = answer left (party time). */
  pingPartyClock(signal: AbortSignal): Promise<{ t1: number; t2: number }>
  /** Where the node streams a song's bytes. */
  songUrl(cid: string): string
  /** No player at all while false (e.g. no token). Default true. */
  enabled?: boolean
}

export interface PartyPlayer {
  /** Sound enabled (after `start()` from a user gesture). */
  started: boolean
  /** Call from a click: browsers allow audio only after a user gesture. */
  start(): Promise<void>
  muted: boolean
  setMuted(muted: boolean): void
  /** Heard position − party position while playing, ms (positive: ahead). */
  errorMs: number | undefined
  playing: boolean
  /** This device's manual delay, ms (positive plays later); saved in localStorage. */
  offsetMs: number
  setOffsetMs(ms: number): void
}

/** Largest manual delay the control accepts either way, ms (Bluetooth adds ~100–300 ms). */
export const MAX_OFFSET_MS = 2000

export function usePartyPlayer(options: PartyPlayerOptions): PartyPlayer {
  const latest = useRef(options)
  latest.current = options
  const enabled = options.enabled ?? true
  const player = useRef<SyncedPlayer>(undefined)
  /** The party state the player follows now (JSON of what matters), so a poll with no change costs nothing. */
  const following = useRef<string>(undefined)
  const [started, setStarted] = useState(false)
  const [muted, setMutedState] = useState(false)
  const [errorMs, setErrorMs] = useState<number>()
  const [playing, setPlaying] = useState(false)
  const [offsetMs, setOffsetState] = useState(0)

  useEffect(() => {
    if (!enabled) return
    const p = new SyncedPlayer({ pingPartyClock: (signal) => latest.current.pingPartyClock(signal) })
    player.current = p
    following.current = undefined
    setOffsetState(p.manualOffsetMs)
    p.start()
    const off = p.onPlayhead((ph) => {
      setErrorMs(ph.errorMs)
      setPlaying(ph.playing)
    })
    const hook = () => p.playhead()
    window.__tuttiPlayhead = hook
    return () => {
      off()
      if (window.__tuttiPlayhead === hook) delete window.__tuttiPlayhead
      p.stop()
      player.current = undefined
    }
  }, [enabled])

  const party = options.party
  // biome-ignore lint/correctness/useExhaustiveDependencies: `enabled` re-feeds a new player
  useEffect(() => {
    const p = player.current
    if (p === undefined || party === undefined) return
    const key =
      party === null ? '' : JSON.stringify([party.timeline, party.queue.map((e) => e.entryId), party.ended])
    if (key === following.current) return
    following.current = key
    const { timeline, queue } = party === null ? { timeline: undefined, queue: [] } : toPlayer(party)
    p.setTimeline(timeline, (cid) => latest.current.songUrl(cid), queue)
  }, [party, enabled])

  return {
    started,
    start: async () => {
      const p = player.current
      if (p === undefined) return
      await p.resume()
      p.muted = false
      setMutedState(false)
      setStarted(true)
    },
    muted,
    setMuted: (m) => {
      if (player.current !== undefined) player.current.muted = m
      setMutedState(m)
    },
    errorMs,
    playing,
    offsetMs,
    setOffsetMs: (ms) => {
      const clamped = Math.round(Math.max(-MAX_OFFSET_MS, Math.min(MAX_OFFSET_MS, ms)))
      if (!Number.isFinite(clamped)) return
      if (player.current !== undefined) player.current.manualOffsetMs = clamped
      setOffsetState(clamped)
    },
  }
}

/** "Playing in sync (+0.4 ms)" while sound plays; what it is waiting for otherwise. */
export function syncText(player: PartyPlayer): string {
  if (!player.playing) return 'Waiting for the song…'
  if (player.errorMs === undefined) return 'Playing in sync'
  return `Playing in sync (${player.errorMs >= 0 ? '+' : ''}${player.errorMs.toFixed(1)} ms)`
}

const STEP_MS = 10

/** This device's delay: ± buttons and a number (ms), saved for this browser. */
export function OffsetControl({ player }: { player: PartyPlayer }) {
  return (
    <div className="offset-control" style={{ marginTop: 8 }}>
      <span>This device's delay: </span>
      <button
        type="button"
        aria-label={`Play ${STEP_MS} ms earlier`}
        onClick={() => player.setOffsetMs(player.offsetMs - STEP_MS)}
      >
        −
      </button>{' '}
      <input
        type="number"
        aria-label="Device delay (ms)"
        value={player.offsetMs}
        min={-MAX_OFFSET_MS}
        max={MAX_OFFSET_MS}
        step={1}
        style={{ width: 72 }}
        onChange={(e) => {
          const ms = e.target.valueAsNumber
          if (Number.isFinite(ms)) player.setOffsetMs(ms)
        }}
      />{' '}
      ms{' '}
      <button
        type="button"
        aria-label={`Play ${STEP_MS} ms later`}
        onClick={() => player.setOffsetMs(player.offsetMs + STEP_MS)}
      >
        +
      </button>{' '}
      <span className="muted">
        (raise it if this device sounds ahead of the others, lower it if behind: a Bluetooth speaker often
        needs about −150)
      </span>
    </div>
  )
}
