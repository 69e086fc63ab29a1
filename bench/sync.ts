/**
 * `npm run bench:sync` — how well a party plays in sync.
 *
 * Five nodes, each its own process (bench/sync-node.ts) with its own clock
 * offset and drift (env-injected; the party and the players only see their
 * skewed clock). The host queues two synthetic songs and plays; three
 * members join first, a fourth joins late. Every node's player reports
 * playhead mappings (own clock → media position); we map each to true time
 * with the known skew and compare positions at the same true instants:
 *   - pairwise playhead error (each member vs the host) p50 / p99 / max
 *   - time until the late joiner is within 2 ms of the host and stays there
 *   - the rendered audio: the host's and one member's WAV recordings,
 *     aligned by their recording start (true time) and cross-correlated.
 * Writes bench/results/sync.json.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { RecordingInfo } from '../src/playback/outputs.ts'
import type { PlayheadMapping } from '../src/playback/renderer.ts'
import { parseWav } from '../src/playback/wav.ts'

const SONG_SECONDS = Number(process.env.TUTTI_BENCH_SONG_SECONDS ?? 12)
const LATE_JOIN_AFTER_MS = 4_000
const RUN_AFTER_PLAY_MS = 2 * SONG_SECONDS * 1000 - 1_000

interface Skew {
  t0: number
  offsetMs: number
  driftPpm: number
}

interface NodeProc {
  name: string
  child: ChildProcess
  skew?: Skew
  recording?: RecordingInfo
  mappings: PlayheadMapping[]
  clock: Array<{ local: number; party: number }>
  messages: Array<Record<string, unknown>>
  output: string
}

const CONFIG = [
  { name: 'host', role: 'host', offsetMs: 0, driftPpm: 0 },
  { name: 'm1', role: 'member', offsetMs: 1_500, driftPpm: 200 },
  { name: 'm2', role: 'member', offsetMs: -3_250, driftPpm: -150 },
  { name: 'm3', role: 'member', offsetMs: 420, driftPpm: 80 },
  { name: 'late', role: 'member', offsetMs: 12_000, driftPpm: -250 },
]

const dir = await mkdtemp(join(tmpdir(), 'tutti-sync-'))
const here = resolve(import.meta.dirname)

function start(cfg: (typeof CONFIG)[number]): NodeProc {
  const output = cfg.name === 'host' || cfg.name === 'm1' ? `wav:${join(dir, `${cfg.name}.wav`)}` : 'none'
  const child = fork(join(here, 'sync-node.ts'), [], {
    env: {
      ...process.env,
      TUTTI_CLOCK_OFFSET_MS: String(cfg.offsetMs),
      TUTTI_CLOCK_DRIFT_PPM: String(cfg.driftPpm),
      TUTTI_BENCH_ROLE: cfg.role,
      TUTTI_BENCH_NAME: cfg.name,
      TUTTI_BENCH_OUTPUT: output,
      TUTTI_BENCH_SONG_SECONDS: String(SONG_SECONDS),
      ...(cfg.name === 'late' && process.env.TUTTI_BENCH_DEBUG ? { DEBUG: 'tutti:party:member*' } : {}),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const node: NodeProc = { name: cfg.name, child, mappings: [], clock: [], messages: [], output }
  child.on('message', (msg: Record<string, unknown>) => {
    if (msg.type === 'playhead') node.mappings.push(msg.mapping as PlayheadMapping)
    else if (msg.type === 'clock') node.clock.push(msg as unknown as { local: number; party: number })
    else {
      node.messages.push(msg)
      if (msg.type === 'ready') {
        node.skew = msg.skew as Skew
        node.recording = msg.recording as RecordingInfo
      }
      if (msg.type === 'error') console.error(`${cfg.name}: ${String(msg.message)}`)
    }
  })
  return node
}

function waitMessage(node: NodeProc, type: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const found = node.messages.find((m) => m.type === type)
  if (found !== undefined) return Promise.resolve(found)
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${node.name}: no ${type} within ${timeoutMs} ms`)),
      timeoutMs,
    )
    const onMessage = (msg: Record<string, unknown>) => {
      if (msg.type !== type) return
      clearTimeout(timer)
      node.child.off('message', onMessage)
      resolvePromise(msg)
    }
    node.child.on('message', onMessage)
  })
}

/** A node's own clock reading → true time (inverse of the skew it ran with). */
function toTrue(skew: Skew, local: number): number {
  return skew.t0 + (local - skew.offsetMs - skew.t0) / (1 + skew.driftPpm / 1e6)
}

function toLocal(skew: Skew, t: number): number {
  return t + skew.offsetMs + ((t - skew.t0) * skew.driftPpm) / 1e6
}

/** Position on the whole queue (s), at true time T, from a node's mappings; undefined when not playing. */
function positionAt(
  node: NodeProc,
  T: number,
  entryIndex: (id: string | undefined) => number,
): number | undefined {
  const skew = node.skew as Skew
  let best: PlayheadMapping | undefined
  for (const m of node.mappings) {
    if (toTrue(skew, m.localTime) <= T) best = m
    else break
  }
  if (best === undefined || !best.playing) return undefined
  const idx = entryIndex(best.entryId)
  if (idx < 0) return undefined
  const elapsedLocalSec = ((T - toTrue(skew, best.localTime)) * (1 + skew.driftPpm / 1e6)) / 1000
  if (elapsedLocalSec > 0.5) return undefined // a stale mapping: the player went quiet
  return idx * SONG_SECONDS + best.mediaPosition + elapsedLocalSec * best.rate
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

async function crossCorrelate(a: NodeProc, b: NodeProc, atTrue: number): Promise<number | undefined> {
  const wa = parseWav(new Uint8Array(await readFile(a.output.slice(4))))
  const wb = parseWav(new Uint8Array(await readFile(b.output.slice(4))))
  const rate = wa.sampleRate
  // Recording sample k of a node was due at its own clock's recordingStart + k/rate: map the true instant to each node's clock.
  const ia = Math.round(
    ((toLocal(a.skew as Skew, atTrue) - (a.recording as RecordingInfo).recordingStartLocalMs) / 1000) * rate,
  )
  const ib = Math.round(
    ((toLocal(b.skew as Skew, atTrue) - (b.recording as RecordingInfo).recordingStartLocalMs) / 1000) * rate,
  )
  const n = rate // 1 s window
  const maxLag = Math.round(0.05 * rate) // ±50 ms
  const xa = wa.channels[0]
  const xb = wb.channels[0]
  if (ia < 0 || ib - maxLag < 0 || ia + n > xa.length || ib + n + maxLag > xb.length) return undefined
  let bestLag = 0
  let bestScore = Number.NEGATIVE_INFINITY
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let s = 0
    for (let i = 0; i < n; i++) s += xa[ia + i] * xb[ib + i + lag]
    if (s > bestScore) {
      bestScore = s
      bestLag = lag
    }
  }
  // Sample lag is in b's clock samples; over 1 s the drift (≤ 250 ppm) changes it by < 0.25 ms.
  return (bestLag / rate) * 1000 // positive: b plays later than a
}

const nodes = CONFIG.map(start)
try {
  // Generous: on a loaded machine five node processes take a while to start.
  await Promise.all(nodes.map((n) => waitMessage(n, 'ready', 120_000)))
  const [host, m1, m2, m3, late] = nodes
  const { invite } = (await waitMessage(host, 'invite')) as { invite: string }
  for (const m of [m1, m2, m3]) m.child.send({ type: 'join', invite })
  await Promise.all([m1, m2, m3].map((m) => waitMessage(m, 'joined')))
  // Let the members' clock estimates settle a little, then play.
  await new Promise((r) => setTimeout(r, 3_000))
  host.child.send({ type: 'play' })
  const playing = (await waitMessage(host, 'playing')) as {
    timeline: { anchorPartyTime: number; entryId: string }
  }
  const playTrue = toTrue(host.skew as Skew, playing.timeline.anchorPartyTime)
  await new Promise((r) => setTimeout(r, LATE_JOIN_AFTER_MS))
  late.child.send({ type: 'join', invite })
  const joined = (await waitMessage(late, 'joined')) as { trueStart: number; trueJoined: number }
  await new Promise((r) =>
    setTimeout(r, Math.max(0, playTrue + RUN_AFTER_PLAY_MS - performance.timeOrigin - performance.now())),
  )
  for (const n of nodes) n.child.send({ type: 'stop' })
  await Promise.all(nodes.map((n) => waitMessage(n, 'stopped', 15_000).catch(() => undefined)))

  const ids = ['e1', 'e2']
  const entryIndex = (id: string | undefined) => (id === undefined ? -1 : ids.indexOf(id))
  const stepMs = 20
  const errors: Record<string, number[]> = {}
  let lateWithin2msAt: number | undefined
  for (const m of [m1, m2, m3, late]) errors[m.name] = []
  // Compare from 1 s after the play took effect (the first second includes the start transient) to the end.
  for (let T = playTrue + 1_000; T < playTrue + RUN_AFTER_PLAY_MS - 500; T += stepMs) {
    const ref = positionAt(host, T, entryIndex)
    if (ref === undefined) continue
    for (const m of [m1, m2, m3, late]) {
      const p = positionAt(m, T, entryIndex)
      if (p === undefined) {
        if (m === late) lateWithin2msAt = undefined
        continue
      }
      const err = Math.abs(p - ref) * 1000
      errors[m.name].push(err)
      if (m === late) {
        if (err < 2 && lateWithin2msAt === undefined) lateWithin2msAt = T
        if (err >= 2) lateWithin2msAt = undefined
      }
    }
  }
  if (process.env.TUTTI_BENCH_DEBUG) {
    // Per-second max error, per member: where the error comes from.
    for (const m of [m1, m2, m3, late]) {
      const perSecond: string[] = []
      for (let T = playTrue; T < playTrue + RUN_AFTER_PLAY_MS; T += 1_000) {
        let worst = 0
        for (let t = T; t < T + 1_000; t += stepMs) {
          const ref = positionAt(host, t, entryIndex)
          const p = positionAt(m, t, entryIndex)
          if (ref !== undefined && p !== undefined) worst = Math.max(worst, Math.abs(p - ref) * 1000)
        }
        perSecond.push(worst.toFixed(1))
      }
      console.log(`  ${m.name} per-second max: ${perSecond.join(' ')}`)
    }
  }
  const summary: Record<string, unknown> = {}
  console.log(
    `sync benchmark: 5 processes, clock offsets up to 12 s, drifts up to ±250 ppm, ${SONG_SECONDS} s songs (gapless pair)`,
  )
  console.log('playhead error vs host (ms), sampled every 20 ms of true time:')
  for (const [name, list] of Object.entries(errors)) {
    const sorted = [...list].sort((a, b) => a - b)
    const row = {
      samples: sorted.length,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: sorted.at(-1),
    }
    summary[name] = row
    console.log(
      `  ${name.padEnd(5)} n=${String(row.samples).padStart(4)}  p50 ${row.p50.toFixed(3)}  p99 ${row.p99.toFixed(3)}  max ${(row.max ?? Number.NaN).toFixed(3)}`,
    )
  }
  const all = Object.values(errors)
    .flat()
    .sort((a, b) => a - b)
  summary.all = { p50: quantile(all, 0.5), p99: quantile(all, 0.99), max: all.at(-1) }
  console.log(
    `  all   p50 ${quantile(all, 0.5).toFixed(3)}  p99 ${quantile(all, 0.99).toFixed(3)}  max ${(all.at(-1) ?? Number.NaN).toFixed(3)}`,
  )
  // Party-clock error: what each member believed the host's clock read, against the truth (the host runs unskewed).
  console.log('party-clock error (ms) from 1 s after the play, sampled every 200 ms:')
  for (const m of [m1, m2, m3, late]) {
    const errs = m.clock
      // From 1 s after the play, and for the late joiner from when its join completed (before, it has no estimate).
      .filter(
        (c) =>
          toTrue(m.skew as Skew, c.local) > Math.max(playTrue + 1_000, m === late ? joined.trueJoined : 0),
      )
      .map((c) => Math.abs(c.party - toTrue(m.skew as Skew, c.local)))
      .sort((a, b) => a - b)
    summary[`${m.name}.clock`] = { p50: quantile(errs, 0.5), p99: quantile(errs, 0.99), max: errs.at(-1) }
    console.log(
      `  ${m.name.padEnd(5)} n=${String(errs.length).padStart(4)}  p50 ${quantile(errs, 0.5).toFixed(3)}  p99 ${quantile(errs, 0.99).toFixed(3)}  max ${(errs.at(-1) ?? Number.NaN).toFixed(3)}`,
    )
  }
  const joinLatency = joined.trueJoined - joined.trueStart
  const within = lateWithin2msAt === undefined ? undefined : lateWithin2msAt - joined.trueStart
  summary.lateJoin = { joinMs: joinLatency, timeToWithin2msMs: within }
  console.log(
    `late joiner: join took ${joinLatency.toFixed(0)} ms; within 2 ms of the host (and stayed) ${within === undefined ? 'never' : `${within.toFixed(0)} ms after it started joining`}`,
  )
  // Audio: cross-correlate the recordings 2 s into the second song (after the gapless transition).
  const lag = await crossCorrelate(host, m1, playTrue + (SONG_SECONDS + 2) * 1000)
  summary.recordingLagMs = lag
  console.log(
    `recordings host vs m1, 1 s window after the song change: m1 ${lag === undefined ? 'n/a (window outside a recording)' : `${lag >= 0 ? 'later' : 'earlier'} by ${Math.abs(lag).toFixed(3)} ms (±0.021 ms resolution)`}`,
  )
  await mkdir(join(here, 'results'), { recursive: true })
  await writeFile(join(here, 'results', 'sync.json'), `${JSON.stringify(summary, null, 2)}\n`)
} finally {
  for (const n of nodes) if (n.child.exitCode === null) n.child.kill()
}
