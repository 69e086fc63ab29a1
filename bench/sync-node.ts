/**
 * One node of `npm run bench:sync`, run as its own process by bench/sync.ts.
 * Its clock is skewed by env: TUTTI_CLOCK_OFFSET_MS (ms) and
 * TUTTI_CLOCK_DRIFT_PPM — the party and the player only ever see the skewed
 * clock. It reports every playhead mapping (in its own clock, plus the
 * skew so the orchestrator can map it to true time) over IPC.
 *
 * Roles (env TUTTI_BENCH_ROLE): host (creates the party, queues two
 * synthetic songs, plays when told) or member (joins the invite it is sent).
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createTuttiLibp2p } from '../src/net/libp2p.ts'
import { createPartyService } from '../src/party/service.ts'
import type { DecodedSong } from '../src/playback/decode.ts'
import { createHeadlessPlayer } from '../src/playback/headless-player.ts'
import { type Clock, monotonicClock } from '../src/shared/clock.ts'

const offsetMs = Number(process.env.TUTTI_CLOCK_OFFSET_MS ?? 0)
const driftPpm = Number(process.env.TUTTI_CLOCK_DRIFT_PPM ?? 0)
const role = process.env.TUTTI_BENCH_ROLE ?? 'member'
const name = process.env.TUTTI_BENCH_NAME ?? role
const output = process.env.TUTTI_BENCH_OUTPUT ?? 'none'

// The skewed clock: local = t + offset + (t − t0)·drift, with t the true (monotonic) time.
const t0 = monotonicClock.now()
const clock: Clock = {
  now: () => {
    const t = monotonicClock.now()
    return t + offsetMs + ((t - t0) * driftPpm) / 1e6
  },
}

export const SONG_SECONDS = Number(process.env.TUTTI_BENCH_SONG_SECONDS ?? 12)
const RATE = 48_000

/** Deterministic noise, different per song: cross-correlation finds the lag unambiguously. */
function synthSong(cid: string): DecodedSong {
  const frames = SONG_SECONDS * RATE
  const left = new Float32Array(frames)
  const right = new Float32Array(frames)
  let x = 0
  for (const ch of cid) x = (x * 31 + ch.charCodeAt(0)) >>> 0
  for (let i = 0; i < frames; i++) {
    x = (x * 1664525 + 1013904223) >>> 0
    left[i] = (x / 2 ** 32 - 0.5) * 0.5
    right[i] = left[i]
  }
  return { sampleRate: RATE, channels: [left, right], frames, sourceSampleRate: RATE }
}

type Inbound = { type: 'join'; invite: string } | { type: 'play' } | { type: 'stop' }

const send = (msg: unknown) => process.send?.(msg)

const key = await generateKeyPair('Ed25519')
const libp2p = await createTuttiLibp2p({ privateKey: key, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
const player = createHeadlessPlayer(
  { output, playheadIntervalMs: 100 },
  {
    clock,
    toLocal: (p) => party.localTimeOf(p),
    toParty: (l) => party.partyTimeOf(l),
    loadSong: async (cid) => synthSong(cid),
  },
)
const party = createPartyService(
  // Each node its own data directory: the party's Raft log is persisted there.
  { dataDir: await mkdtemp(join(tmpdir(), `tutti-sync-${name}-`)), displayName: name },
  { libp2p, clock, privateKey: key, player },
)
await party.start()
await player.start()
player.on('playhead', (p) => send({ type: 'playhead', mapping: p }))
// Clock samples: our local time and what we believe party time is then (the host's clock is the party clock).
setInterval(() => {
  if (party.status() === undefined) return
  const local = clock.now()
  send({ type: 'clock', local, party: party.partyTimeOf(local) })
}, 200).unref()

send({
  type: 'ready',
  skew: { t0, offsetMs, driftPpm },
  recording: player.recording,
})

if (role === 'host') {
  const { invite } = await party.create({ name: 'bench' })
  for (const cid of ['bench-song-a', 'bench-song-b']) {
    await party.command({
      type: 'enqueue',
      song: { cid, title: cid, artist: 'bench', durationSec: SONG_SECONDS },
    })
  }
  send({ type: 'invite', invite })
}

process.on('message', async (msg: Inbound) => {
  try {
    if (msg.type === 'join') {
      const started = monotonicClock.now()
      await party.join(msg.invite)
      send({ type: 'joined', trueStart: started, trueJoined: monotonicClock.now() })
    } else if (msg.type === 'play') {
      await party.command({ type: 'play' })
      send({ type: 'playing', timeline: party.status()?.timeline })
    } else if (msg.type === 'stop') {
      send({ type: 'sync-error', ms: party.status()?.syncErrorMs })
      await player.stop()
      await party.stop()
      await libp2p.stop()
      send({ type: 'stopped', recording: player.recording })
      setTimeout(() => process.exit(0), 100)
    }
  } catch (err) {
    send({ type: 'error', message: (err as Error).message })
  }
})
