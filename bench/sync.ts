/**
 * `npm run bench:sync` — how well a party plays in sync.
 *
 * Five nodes, each its own process (bench/sync-node.ts) with its own clock
 * offset (up to 12 s) and drift (up to ±250 ppm), env-injected: the party and
 * the players only see their skewed clock. The host and three members hold
 * the songs on disk; the host queues them (default 4 × 50 s = 200 s, played
 * gaplessly) and plays. The fifth node joins mid-song with an empty library:
 * it must fetch the song through the swarm from the party's members.
 *
 * Every node's player reports playhead mappings (own clock → media
 * position); we map each to true time with the known skew and compare
 * positions at the same true instants (every 20 ms):
 *   - pairwise playhead error (each member vs the host) p50 / p99 / max
 *   - how long the joiner takes (from starting to join) to be within 2 ms of
 *     the host and stay there for 5 s; whether it stays there to the end
 *   - the rendered audio: the host's WAV recording is cross-correlated with
 *     m1's after the first song change and with the joiner's after it joined.
 *
 * Profiles (TUTTI_BENCH_PROFILES, default "lan,delay"):
 *   lan    loopback between the processes.
 *   delay  one-way delay 40 ms ± 10 ms (uniform) and 1 % packet loss. This
 *          kernel has no netem/tbf qdiscs, so bench/lib/netem-lan.ts builds
 *          an equivalent: each node in its own network namespace, reachable
 *          only through a router namespace whose iptables REDIRECT hands
 *          every TCP connection to a userspace relay (bench/lib/netem-relay.ts)
 *          that delays each direction by 40 ± 10 ms without reordering bytes
 *          within a connection; each node's namespace drops 1 % of the packets
 *          it receives (iptables statistic match), a real loss TCP must recover.
 *          The relay terminates TCP, so a loss is recovered on its sub-ms hop
 *          rather than across the 80 ms round trip (see the header of
 *          bench/lib/netem-lan.ts). Skipped with the reason when not root or
 *          without namespaces/iptables.
 *
 * Knobs: TUTTI_BENCH_SONG_SECONDS (50), TUTTI_BENCH_SONG_COUNT (4), TUTTI_BENCH_ELECTION_TICKS
 * (the party's Raft election timeout in 50 ms ticks; default the product's),
 * TUTTI_BENCH_LATE_JOIN_S (half a song), TUTTI_BENCH_STREAMS=1 (each node prints what it
 * received per protocol; the delay lab's relay records bytes per connection in the JSON),
 * TUTTI_BENCH_CLOCK_TRACE=1 (each node prints every clock sample and its skew, for replaying). A dev run:
 * `TUTTI_BENCH_SONG_SECONDS=8 TUTTI_BENCH_SONG_COUNT=2 npm run bench:sync`.
 * Writes bench/results/sync.json.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { RecordingInfo } from '../src/playback/outputs.ts'
import type { PlayheadMapping } from '../src/playback/renderer.ts'
import { parseWav, wavHeader } from '../src/playback/wav.ts'
import { mulberry32 } from '../src/shared/random.ts'
import { createNetemLan, type NetemLan, netemLanUnavailableReason } from './lib/netem-lan.ts'

const SONG_SECONDS = Number(process.env.TUTTI_BENCH_SONG_SECONDS ?? 50)
const SONG_COUNT = Number(process.env.TUTTI_BENCH_SONG_COUNT ?? 4)
const LATE_JOIN_AFTER_MS = Number(process.env.TUTTI_BENCH_LATE_JOIN_S ?? Math.max(4, SONG_SECONDS / 2)) * 1000
const RUN_AFTER_PLAY_MS = SONG_COUNT * SONG_SECONDS * 1000 - 1_000
const PROFILES = (process.env.TUTTI_BENCH_PROFILES ?? 'lan,delay').split(',').map((p) => p.trim())
const DELAY = { delayMs: 40, jitterMs: 10, lossProbability: 0.01 }
const RATE = 48_000
const STEP_MS = 20
const SETTLE_MS = 5_000

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
const RECORDED = new Set(['host', 'm1', 'late'])

const here = resolve(import.meta.dirname)
const dir = await mkdtemp(join(tmpdir(), 'tutti-sync-'))

/** Deterministic noise, different per song (cross-correlation finds the lag unambiguously), as 16-bit stereo WAV files. */
async function writeSongs(): Promise<Array<{ path: string; title: string; durationSec: number }>> {
  const songs = []
  for (let s = 0; s < SONG_COUNT; s++) {
    const frames = SONG_SECONDS * RATE
    const data = Buffer.alloc(frames * 4)
    const random = mulberry32(1000 + s)
    for (let i = 0; i < frames; i++) {
      const v = Math.round((random() - 0.5) * 0.5 * 32767)
      data.writeInt16LE(v, i * 4)
      data.writeInt16LE(v, i * 4 + 2)
    }
    const path = join(dir, `song-${s + 1}.wav`)
    await writeFile(
      path,
      Buffer.concat([wavHeader({ sampleRate: RATE, channels: 2, dataBytes: data.length }), data]),
    )
    songs.push({ path, title: `song ${s + 1}`, durationSec: SONG_SECONDS })
  }
  return songs
}

function waitMessage(
  node: { name: string; child: ChildProcess; messages?: Array<Record<string, unknown>> },
  type: string,
  timeoutMs = 30_000,
): Promise<Record<string, unknown>> {
  const found = node.messages?.find((m) => m.type === type)
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

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

const ms = (v: number | undefined, digits = 3) =>
  v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(digits)

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

interface Lab {
  /** Spawns a node process; in the delay profile inside its namespace. */
  spawnNode(index: number, env: NodeJS.ProcessEnv): ChildProcess
  listen(index: number): string
  finish(): Promise<Record<string, unknown>>
}

function loopbackLab(): Lab {
  return {
    spawnNode: (_i, env) =>
      fork(join(here, 'sync-node.ts'), [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    listen: () => '/ip4/127.0.0.1/tcp/0',
    finish: async () => ({}),
  }
}

async function delayLab(): Promise<Lab> {
  const lan: NetemLan = createNetemLan(`tsyn${process.pid % 10000}`, {
    count: CONFIG.length,
    lossProbability: DELAY.lossProbability,
  })
  // The relay runs at a higher priority (nice −10): it plays the network, which a busy CPU must not slow down.
  const inNs = (ns: string, script: string, env: NodeJS.ProcessEnv, nice = 0) =>
    spawn(
      'nice',
      [
        '-n',
        String(nice),
        'ip',
        'netns',
        'exec',
        ns,
        process.execPath,
        ...process.execArgv,
        join(here, script),
      ],
      {
        env,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    )
  const relay = {
    name: 'relay',
    child: inNs(
      lan.router,
      'sync-relay.ts',
      {
        ...process.env,
        TUTTI_RELAY: JSON.stringify({
          routes: lan.routes,
          delayMs: DELAY.delayMs,
          jitterMs: DELAY.jitterMs,
          seed: 4,
        }),
      },
      -10,
    ),
  }
  try {
    await waitMessage(relay, 'listening', 60_000)
  } catch (err) {
    relay.child.kill()
    lan.destroy()
    throw err
  }
  return {
    spawnNode: (i, env) => inNs(lan.hosts[i].ns, 'sync-node.ts', env),
    listen: (i) => `/ip4/${lan.hosts[i].address}/tcp/${lan.hosts[i].port}`,
    async finish() {
      const loss = lan.lossCounters()
      relay.child.send({ type: 'stop' })
      const stats = (await waitMessage(relay, 'stats', 10_000).catch(() => ({ stats: undefined }))) as {
        stats?: Record<string, unknown>
      }
      if (relay.child.exitCode === null) relay.child.kill()
      lan.destroy()
      return { loss, relay: stats.stats }
    },
  }
}

async function runProfile(
  profile: string,
  songs: Awaited<ReturnType<typeof writeSongs>>,
): Promise<Record<string, unknown>> {
  const loadBefore = loadavg()
  const lab = profile === 'delay' ? await delayLab() : loopbackLab()
  const profileDir = await mkdtemp(join(dir, `${profile}-`))
  const nodes: NodeProc[] = CONFIG.map((cfg, i) => {
    const output = RECORDED.has(cfg.name) ? `wav:${join(profileDir, `${cfg.name}.wav`)}` : 'none'
    const child = lab.spawnNode(i, {
      ...process.env,
      TUTTI_CLOCK_OFFSET_MS: String(cfg.offsetMs),
      TUTTI_CLOCK_DRIFT_PPM: String(cfg.driftPpm),
      TUTTI_BENCH_ROLE: cfg.role,
      TUTTI_BENCH_NAME: cfg.name,
      TUTTI_BENCH_OUTPUT: output,
      TUTTI_BENCH_LISTEN: lab.listen(i),
      // The joiner starts with an empty library: everything comes through the swarm.
      TUTTI_BENCH_SONGS: JSON.stringify(cfg.name === 'late' ? [] : songs),
      ...(cfg.name === 'late' && process.env.TUTTI_BENCH_DEBUG
        ? { DEBUG: 'tutti:party*,tutti:swarm:download,tutti:playback' }
        : {}),
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
  })
  let labStats: Record<string, unknown> = {}
  try {
    // Generous: on a loaded machine five node processes take a while to start.
    await Promise.all(nodes.map((n) => waitMessage(n, 'ready', 120_000)))
    const [host, m1, m2, m3, late] = nodes
    const { invite, entries, hostPeerId } = (await waitMessage(host, 'invite')) as {
      invite: string
      entries: string[]
      hostPeerId: string
    }
    for (const m of [m1, m2, m3]) m.child.send({ type: 'join', invite })
    await Promise.all([m1, m2, m3].map((m) => waitMessage(m, 'joined', 150_000)))
    // Let the members' clock estimates settle a little, then play.
    await new Promise((r) => setTimeout(r, 3_000))
    host.child.send({ type: 'play' })
    const playing = (await waitMessage(host, 'playing')) as { timeline: { anchorPartyTime: number } }
    const playTrue = toTrue(host.skew as Skew, playing.timeline.anchorPartyTime)
    const now = () => performance.timeOrigin + performance.now()
    await new Promise((r) => setTimeout(r, Math.max(0, playTrue + LATE_JOIN_AFTER_MS - now())))
    late.child.send({ type: 'join', invite })
    const joined = (await waitMessage(late, 'joined', 150_000)) as {
      trueStart: number
      trueJoined: number
      failures: string[]
    }
    await new Promise((r) => setTimeout(r, Math.max(0, playTrue + RUN_AFTER_PLAY_MS - now())))
    for (const n of nodes) n.child.send({ type: 'stop' })
    await Promise.all(nodes.map((n) => waitMessage(n, 'stopped', 15_000).catch(() => undefined)))

    const entryIndex = (id: string | undefined) => (id === undefined ? -1 : entries.indexOf(id))
    /** Position on the whole queue (s), at true time T, from a node's mappings; undefined when not playing. */
    const cursors = new Map<NodeProc, number>()
    const positionAt = (node: NodeProc, T: number): number | undefined => {
      const skew = node.skew as Skew
      // T only grows within a pass: walk each node's mappings with a cursor.
      let i = cursors.get(node) ?? 0
      if (i > 0 && toTrue(skew, node.mappings[i - 1].localTime) > T) i = 0
      while (i < node.mappings.length && toTrue(skew, node.mappings[i].localTime) <= T) i++
      cursors.set(node, i)
      const best = node.mappings[i - 1]
      if (best === undefined || !best.playing) return undefined
      const idx = entryIndex(best.entryId)
      if (idx < 0) return undefined
      const elapsedLocalSec = ((T - toTrue(skew, best.localTime)) * (1 + skew.driftPpm / 1e6)) / 1000
      if (elapsedLocalSec > 0.5) return undefined // a stale mapping: the player went quiet
      return idx * SONG_SECONDS + best.mediaPosition + elapsedLocalSec * best.rate
    }

    const members = [m1, m2, m3, late]
    const errors: Record<string, number[]> = {}
    for (const m of members) errors[m.name] = []
    /** The joiner's error over time (true time, ms error or undefined when silent). */
    const lateTrack: Array<{ T: number; err: number | undefined }> = []
    // Compare from 1 s after the play took effect (the first second includes the start transient) to the end.
    for (let T = playTrue + 1_000; T < playTrue + RUN_AFTER_PLAY_MS - 500; T += STEP_MS) {
      const ref = positionAt(host, T)
      if (ref === undefined) continue
      for (const m of members) {
        const p = positionAt(m, T)
        const err = p === undefined ? undefined : Math.abs(p - ref) * 1000
        if (err !== undefined) errors[m.name].push(err)
        if (m === late && T >= joined.trueStart) lateTrack.push({ T, err })
      }
    }
    // First instant from which the joiner stays within 2 ms for SETTLE_MS.
    let settledAt: number | undefined
    for (let i = 0; i < lateTrack.length && settledAt === undefined; i++) {
      let ok = true
      for (let j = i; j < lateTrack.length && lateTrack[j].T < lateTrack[i].T + SETTLE_MS; j++) {
        const e = lateTrack[j].err
        if (e === undefined || e >= 2) {
          ok = false
          break
        }
      }
      if (ok && lateTrack.at(-1)!.T >= lateTrack[i].T + SETTLE_MS) settledAt = lateTrack[i].T
    }
    const excursions =
      settledAt === undefined
        ? undefined
        : lateTrack.filter((s) => s.T > settledAt && (s.err === undefined || s.err >= 2)).length
    const firstAudible = lateTrack.find((s) => s.err !== undefined)?.T

    const summary: Record<string, unknown> = { profile }
    console.log(`\n== profile ${profile} ==`)
    if (profile === 'delay')
      console.log(
        `  network: one-way delay ${DELAY.delayMs} ± ${DELAY.jitterMs} ms (uniform, per chunk, order-preserving; userspace relay behind iptables REDIRECT in a router namespace), ${DELAY.lossProbability * 100} % of packets dropped on receipt in each node's namespace (iptables statistic)`,
      )
    else console.log('  network: loopback')
    console.log(
      `  5 processes, clock offsets up to 12 s, drifts up to ±250 ppm; ${SONG_COUNT} songs × ${SONG_SECONDS} s played gaplessly`,
    )
    console.log('  playhead error vs host (ms), sampled every 20 ms of true time:')
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
        `    ${name.padEnd(5)} n=${String(row.samples).padStart(5)}  p50 ${ms(row.p50)}  p99 ${ms(row.p99)}  max ${ms(row.max)}`,
      )
    }
    const all = Object.values(errors)
      .flat()
      .sort((a, b) => a - b)
    summary.all = { samples: all.length, p50: quantile(all, 0.5), p99: quantile(all, 0.99), max: all.at(-1) }
    console.log(
      `    all   n=${String(all.length).padStart(5)}  p50 ${ms(quantile(all, 0.5))}  p99 ${ms(quantile(all, 0.99))}  max ${ms(all.at(-1))}`,
    )
    // Party-clock error: what each member believed the host's clock read, against the truth (the host runs unskewed).
    // Party-clock error: what each member believed party time was, against what the host's party clock read at the
    // same true instant (the host's own samples, 200 ms apart: party time runs at the host's rate, ≤ 250 ppm off true).
    const hostSamples = host.clock.map((c) => ({ T: toTrue(host.skew as Skew, c.local), party: c.party }))
    const hostPartyAt = (T: number): number | undefined => {
      let best: (typeof hostSamples)[number] | undefined
      for (const h of hostSamples)
        if (best === undefined || Math.abs(h.T - T) < Math.abs(best.T - T)) best = h
      return best === undefined || Math.abs(best.T - T) > 1_000 ? undefined : best.party + (T - best.T)
    }
    console.log(
      "  party-clock error (ms) vs the host's party clock, from 1 s after the play, sampled every 200 ms:",
    )
    const windows: string[] = []
    for (const m of members) {
      const errs: number[] = []
      // Signed error by 20 s window of true time since the play: when the error came, and which way.
      const byWindow = new Map<number, number>()
      for (const c of m.clock) {
        const T = toTrue(m.skew as Skew, c.local)
        if (T <= Math.max(playTrue + 1_000, m === late ? joined.trueJoined : 0)) continue
        const ref = hostPartyAt(T)
        if (ref === undefined) continue
        errs.push(Math.abs(c.party - ref))
        const w = Math.floor((T - playTrue) / 20_000)
        const worst = byWindow.get(w)
        if (worst === undefined || Math.abs(c.party - ref) > Math.abs(worst)) byWindow.set(w, c.party - ref)
      }
      errs.sort((a, b) => a - b)
      const worstByWindow = [...byWindow.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e)
      summary[`${m.name}.clock`] = {
        p50: quantile(errs, 0.5),
        p99: quantile(errs, 0.99),
        max: errs.at(-1),
        worstBy20s: worstByWindow,
      }
      console.log(
        `    ${m.name.padEnd(5)} n=${String(errs.length).padStart(5)}  p50 ${ms(quantile(errs, 0.5))}  p99 ${ms(quantile(errs, 0.99))}  max ${ms(errs.at(-1))}`,
      )
      windows.push(
        `    ${m.name.padEnd(5)} ${worstByWindow.map((e) => `${e >= 0 ? '+' : ''}${e.toFixed(2)}`).join(' ')}`,
      )
    }
    console.log('  worst signed party-clock error (ms, member − host) per 20 s since the play:')
    for (const line of windows) console.log(line)
    // A host change (an election under heavy load) moves the party clock to another process: say so.
    const terms = nodes.map(
      (n) => (n.messages.find((msg) => msg.type === 'sync-error') as { term?: number } | undefined)?.term,
    )
    summary.raftTerms = terms
    const leaders = nodes.map(
      (n) => (n.messages.find((msg) => msg.type === 'sync-error') as { leader?: string } | undefined)?.leader,
    )
    const hostKept = leaders.every((l) => l !== undefined && l === hostPeerId)
    summary.hostKeptLeadership = hostKept
    console.log(
      `  Raft term at the end per node: ${terms.join(' / ')}; ${hostKept ? 'every node still follows the original host' : 'the party clock moved to another node (an election): the clock figures compare with the original host anyway'}`,
    )
    const loaded = late.messages.filter((m) => m.type === 'loaded') as Array<{
      cid: string
      fromDisk: boolean
      trueStart: number
      trueLoaded: number
    }>
    const firstLoad = loaded[0]
    const lateJoin = {
      joinedAfterPlayMs: joined.trueStart - playTrue,
      joinMs: joined.trueJoined - joined.trueStart,
      failedJoinAttempts: joined.failures,
      firstSongFetchedAndDecodedMs:
        firstLoad === undefined ? undefined : firstLoad.trueLoaded - joined.trueStart,
      firstSongFromDisk: firstLoad?.fromDisk,
      firstAudibleMs: firstAudible === undefined ? undefined : firstAudible - joined.trueStart,
      within2msMs: settledAt === undefined ? undefined : settledAt - joined.trueStart,
      samplesOver2msAfterSettling: excursions,
    }
    summary.lateJoin = lateJoin
    if (firstAudible === undefined) {
      const account = late.messages.find((m) => m.type === 'sync-error')
      console.log(`  the joiner never played; its own account at the end: ${JSON.stringify(account)}`)
      summary.lateAccount = account
    }
    console.log(
      `  joiner (empty library, joined ${(lateJoin.joinedAfterPlayMs / 1000).toFixed(1)} s into the first song): admitted after ${ms(lateJoin.joinMs, 0)} ms${joined.failures.length > 0 ? ` (after ${joined.failures.length} failed attempts: ${joined.failures.join('; ')})` : ''}; song ${firstLoad?.fromDisk === false ? 'fetched through the swarm and decoded' : 'loaded'} ${ms(lateJoin.firstSongFetchedAndDecodedMs, 0)} ms after it started joining; first audible ${ms(lateJoin.firstAudibleMs, 0)} ms; within 2 ms of the host (and for the next ${SETTLE_MS / 1000} s) ${lateJoin.within2msMs === undefined ? 'never' : `${lateJoin.within2msMs.toFixed(0)} ms`} after it started joining; afterwards ${excursions ?? 'n/a'} of ${lateTrack.length} samples ≥ 2 ms`,
    )
    // Audio: cross-correlate recordings 2 s after the first song change, and 3 s after the joiner settled.
    const lagM1 =
      SONG_COUNT > 1 ? await crossCorrelate(host, m1, playTrue + (SONG_SECONDS + 2) * 1000) : undefined
    const lagLate = settledAt === undefined ? undefined : await crossCorrelate(host, late, settledAt + 3_000)
    summary.recordingLagMs = { m1AfterSongChange: lagM1, lateAfterJoin: lagLate }
    const describe = (lag: number | undefined, who: string) =>
      lag === undefined
        ? 'n/a (window outside a recording)'
        : `${who} ${lag >= 0 ? 'later' : 'earlier'} by ${Math.abs(lag).toFixed(3)} ms`
    console.log(
      `  recordings cross-correlated with the host's (1 s windows, ±0.021 ms resolution): after the first song change ${describe(lagM1, 'm1')}; after the join ${describe(lagLate, 'late')}`,
    )
    labStats = await lab.finish()
    if (labStats.loss !== undefined) {
      const { dropped, received } = labStats.loss as { dropped: number; received: number }
      const relay = labStats.relay as
        | { connections: number; chunks: number; delayMs: Record<string, number> }
        | undefined
      console.log(
        `  lab: ${dropped} of ${received + dropped} packets dropped (${((100 * dropped) / Math.max(1, received + dropped)).toFixed(2)} %); relay ${relay?.connections} connections, ${relay?.chunks} chunks, one-way delay applied p1 ${ms(relay?.delayMs.p1, 1)} p50 ${ms(relay?.delayMs.p50, 1)} p99 ${ms(relay?.delayMs.p99, 1)} max ${ms(relay?.delayMs.max, 1)} ms`,
      )
    }
    const loadAfter = loadavg()
    summary.lab = labStats
    summary.loadAverage = { before: loadBefore, after: loadAfter }
    console.log(
      `  load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`,
    )
    return summary
  } finally {
    for (const n of nodes) if (n.child.exitCode === null) n.child.kill()
    if (Object.keys(labStats).length === 0) await lab.finish().catch(() => undefined)
    await rm(profileDir, { recursive: true, force: true })
  }
}

const results: Record<string, unknown> = {
  config: {
    songSeconds: SONG_SECONDS,
    songCount: SONG_COUNT,
    lateJoinAfterMs: LATE_JOIN_AFTER_MS,
    delay: DELAY,
  },
}
try {
  const songs = await writeSongs()
  for (const profile of PROFILES) {
    if (profile === 'delay') {
      const reason = netemLanUnavailableReason()
      if (reason !== undefined) {
        console.log(`\n== profile delay: skipped (${reason}) ==`)
        results.delay = { skipped: reason }
        continue
      }
    } else if (profile !== 'lan') throw new Error(`unknown profile ${profile} (lan, delay)`)
    try {
      results[profile] = await runProfile(profile, songs)
    } catch (err) {
      // One profile failing (e.g. a join refused five times) must not lose the others' figures.
      console.log(`\n== profile ${profile}: FAILED (${(err as Error).message}) ==`)
      results[profile] = { failed: (err as Error).message, loadAverage: loadavg() }
      process.exitCode = 1
    }
  }
  await mkdir(join(here, 'results'), { recursive: true })
  await writeFile(join(here, 'results', 'sync.json'), `${JSON.stringify(results, null, 2)}\n`)
} finally {
  await rm(dir, { recursive: true, force: true })
}
