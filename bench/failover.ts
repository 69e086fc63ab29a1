/**
 * Failover benchmark: a five-member party group as separate processes,
 * the leader SIGKILLed again and again on loopback (KILLS, default 20), then
 * — where network namespaces are available (root + `ip netns`) — the leader's
 * network cable pulled (CUTS, default 20: iptables DROP on its interface,
 * so the others see silence rather than a closed connection), while a client
 * keeps submitting commands through whoever leads. Reports election time
 * (failure → a survivor announces a new leader) p50/p99 and how many
 * acknowledged commands are missing from any survivor afterwards (must be
 * 0); then the party service in-process: timeline jump and playback gap per
 * survivor across host kills. Prints the load average beside the figures.
 *
 *   npm run bench:failover            KILLS=5 CUTS=5 npm run bench:failover
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestLan, netnsUnavailableReason, type TestLan } from '../test/helpers/netns.ts'
import { ProcessGroup } from '../test/replication/fixtures/process-group.ts'

const KILLS = Number(process.env.KILLS ?? 20)
const CUTS = Number(process.env.CUTS ?? 20)
/** Leader kills in the in-process party-service phase (5 voters survive at most 2). */
const PARTY_KILLS = Math.min(2, Number(process.env.PARTY_KILLS ?? 2))
const SIZE = 5

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i]
}

type Fault = 'kill' | 'cut'

/**
 * One phase: a five-member group, its leader failed `count` times by `fault`
 * (SIGKILL on loopback, or its network cable pulled inside a namespace LAN),
 * while a client keeps submitting commands through whoever leads.
 */
async function logPhase(fault: Fault, count: number, lan?: TestLan) {
  const root = await mkdtemp(join(tmpdir(), 'tutti-bench-failover-'))
  const started = performance.now()
  const g = await ProcessGroup.create(SIZE, root, { lan })
  console.log(
    `${fault}: ${SIZE} member processes up ${lan ? 'in network namespaces' : 'on loopback'} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  )

  const acked: number[] = []
  let submitted = 0
  let running = true
  // A client that never stops submitting: commands in flight during a failure may
  // fail (not acknowledged, and the client would retry), but every one that
  // was acknowledged must survive.
  const client = (async () => {
    let n = 0
    while (running) {
      n++
      submitted++
      if (await g.propose(n, 5000)) acked.push(n)
    }
  })()

  const elections: number[] = []
  const commandGaps: number[] = []
  for (let k = 0; k < count; k++) {
    const before = acked.length
    while (acked.length < before + 5) await new Promise((resolve) => setTimeout(resolve, 20))
    const victim = g.currentLeader()
    if (victim < 0) throw new Error('no leader before the failure')
    const failedAt = fault === 'kill' ? await g.kill(victim) : g.cut(victim)
    const ackedAtFailure = acked.length
    const next = await g.waitNewLeader(failedAt, victim)
    const electionMs = next.at - failedAt
    elections.push(electionMs)
    // Time until the client gets its next acknowledgement: what a user feels.
    while (acked.length === ackedAtFailure) await new Promise((resolve) => setTimeout(resolve, 5))
    commandGaps.push(performance.now() - failedAt)
    console.log(
      `${fault} ${k + 1}/${count}: member ${victim} → leader ${g.indexOf(next.leader)} in ${electionMs.toFixed(0)} ms (term ${next.term}); next ack after ${commandGaps.at(-1)?.toFixed(0)} ms`,
    )
    if (fault === 'kill') await g.start(victim)
    else g.heal(victim)
  }
  running = false
  await client

  const states = await g.converged(30_000)
  let lost = 0
  const lostDetail: string[] = []
  for (const s of states) {
    const have = new Set(s.applied)
    for (const n of acked) {
      if (!have.has(n)) {
        lost++
        lostDetail.push(`member ${s.member} misses acknowledged command ${n}`)
      }
    }
  }
  const sameIndex = new Set(states.map((s) => s.commitIndex)).size === 1
  // Same history everywhere, in the same order (not only the same length).
  const sameHistory = new Set(states.map((s) => s.applied.join(','))).size === 1
  await g.close()
  await rm(root, { recursive: true, force: true })

  const sorted = [...elections].sort((a, b) => a - b)
  const gaps = [...commandGaps].sort((a, b) => a - b)
  const result = {
    fault,
    network: lan ? 'namespaces (veth + bridge)' : 'loopback',
    members: SIZE,
    failures: count,
    electionMs: {
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      min: sorted[0],
      max: sorted.at(-1),
      all: elections,
    },
    failureToNextAckMs: { p50: quantile(gaps, 0.5), p99: quantile(gaps, 0.99), max: gaps.at(-1) },
    submitted,
    acknowledged: acked.length,
    acknowledgedLost: lost,
    replicasAgree: sameIndex && sameHistory,
  }
  console.log(
    `${fault}: election time  p50 ${result.electionMs.p50.toFixed(0)} ms  p99 ${result.electionMs.p99.toFixed(0)} ms  (min ${result.electionMs.min?.toFixed(0)}, max ${result.electionMs.max?.toFixed(0)}, n=${count})`,
  )
  console.log(
    `${fault}: failure → next acknowledged command  p50 ${result.failureToNextAckMs.p50.toFixed(0)} ms  p99 ${result.failureToNextAckMs.p99.toFixed(0)} ms`,
  )
  console.log(
    `${fault}: acknowledged ${acked.length} of ${submitted} submitted; acknowledged commands lost: ${lost}`,
  )
  for (const line of lostDetail.slice(0, 10)) console.log(`  ${line}`)
  console.log(
    `${fault}: replicas agree (commit index and the order of every command): ${sameIndex && sameHistory}`,
  )
  return result
}

const load = () => loadavg().map((l) => l.toFixed(2))
console.log(`load average at start: ${load().join(' ')}`)
const kills = await logPhase('kill', KILLS)

let cuts: Awaited<ReturnType<typeof logPhase>> | { skipped: string } = { skipped: 'CUTS=0' }
const why = CUTS > 0 ? netnsUnavailableReason() : 'CUTS=0'
if (why !== undefined) {
  cuts = { skipped: why }
  console.log(`cut: skipped — ${why}`)
} else {
  const lan = createTestLan('tfo', SIZE)
  try {
    cuts = await logPhase('cut', CUTS, lan)
  } finally {
    lan.destroy()
  }
}

const party = await partyPhase(PARTY_KILLS)
console.log(`load average at the end: ${load().join(' ')}`)
await mkdir(new URL('./results/', import.meta.url), { recursive: true })
await writeFile(
  new URL('./results/failover.json', import.meta.url),
  `${JSON.stringify({ loadAverage: loadavg(), ...kills, kills, cuts, party }, null, 2)}\n`,
)
const bad = (r: typeof cuts) => 'fault' in r && (r.acknowledgedLost > 0 || !r.replicasAgree)
process.exit(bad(kills) || bad(cuts) ? 1 : 0)

/**
 * The party service on this log, in one process: five members on loopback
 * libp2p, each with its own clock offset and a recording player, playing a
 * song; the host's node is killed `kills` times. Per survivor: the largest
 * timeline jump (position − local time, sampled every 10 ms from before the
 * kill to 1 s after the new host's set-host committed) and the playback gap
 * (time the player had no running timeline).
 */
async function partyPhase(kills: number) {
  const { generateKeyPair } = await import('@libp2p/crypto/keys')
  const { createTuttiLibp2p } = await import('../src/net/libp2p.ts')
  const { createPartyService } = await import('../src/party/service.ts')
  const { monotonicClock } = await import('../src/shared/clock.ts')
  const dir = await mkdtemp(join(tmpdir(), 'tutti-bench-party-'))
  const nodes = await Promise.all(
    [0, 2_000, -1_500, 700, -3_100].map(async (offset, i) => {
      const key = await generateKeyPair('Ed25519')
      const libp2p = await createTuttiLibp2p({
        privateKey: key,
        mdns: false,
        listen: ['/ip4/127.0.0.1/tcp/0'],
      })
      const clock = { now: () => monotonicClock.now() + offset }
      const player = { playing: false, stoppedSince: 0 as number | undefined, stoppedMs: 0 }
      const party = createPartyService(
        { dataDir: join(dir, `n${i}`), displayName: `n${i}`, heartbeatMs: 200, removeAfterMs: 60_000 },
        {
          libp2p,
          clock,
          privateKey: key,
          player: {
            setTimeline(timeline) {
              const playing = timeline !== undefined && !timeline.paused
              const now = performance.now()
              if (playing && player.stoppedSince !== undefined) {
                player.stoppedMs += now - player.stoppedSince
                player.stoppedSince = undefined
              } else if (!playing && player.stoppedSince === undefined) player.stoppedSince = now
              player.playing = playing
            },
          },
        },
      )
      await party.start()
      return { i, libp2p, party, clock, player, id: libp2p.peerId.toString(), alive: true }
    }),
  )
  const until = async (check: () => boolean, what: string, ms = 30_000) => {
    const end = performance.now() + ms
    while (!check()) {
      if (performance.now() > end) throw new Error(`party phase: timed out waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
  const mapping = (n: (typeof nodes)[number]) => {
    const local = n.clock.now()
    const st = n.party.status()
    return st?.nowPlaying.playing ? st.nowPlaying.position * 1000 - local : Number.NaN
  }
  const { invite } = await nodes[0].party.create({ name: 'bench', permissions: { mode: 'everyone' } })
  for (const n of nodes.slice(1)) await n.party.join(invite)
  await until(
    () => nodes[0].party.status()?.members.every((m) => m.replica === 'voter') === true,
    'five voters',
  )
  // Set-up commands are retried: a member's command can fail while its connection to the host is
  // being replaced (a loaded machine moves leadership now and then); a second enqueue would not matter.
  const retry = async (run: () => Promise<unknown>): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await run()
        return
      } catch (err) {
        if (attempt >= 20) throw err
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
    }
  }
  await retry(() =>
    nodes[1].party.command({
      type: 'enqueue',
      song: { cid: 'bafybench', title: 'x', artist: 'y', durationSec: 3600 },
    }),
  )
  await retry(() => nodes[0].party.command({ type: 'play' }))
  await until(() => nodes.every((n) => n.player.playing), 'everyone playing')
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const rounds: Array<{ electionMs: number; hostChangedMs: number; maxJumpMs: number; maxGapMs: number }> = []
  for (let k = 0; k < kills; k++) {
    const alive = nodes.filter((n) => n.alive)
    const victim = alive.find((n) => n.party.status()?.role === 'host')
    if (victim === undefined) throw new Error('party phase: no host')
    const survivors = alive.filter((n) => n !== victim)
    const before = new Map(survivors.map((n) => [n.id, mapping(n)]))
    const gapBefore = new Map(survivors.map((n) => [n.id, n.player.stoppedMs]))
    const jumps = new Map(survivors.map((n) => [n.id, 0]))
    const sample = () => {
      for (const n of survivors) {
        const j = Math.abs(mapping(n) - (before.get(n.id) ?? 0))
        jumps.set(n.id, Math.max(jumps.get(n.id) ?? 0, Number.isNaN(j) ? Number.POSITIVE_INFINITY : j))
      }
    }
    const killedAt = performance.now()
    victim.alive = false
    await victim.libp2p.stop()
    let electionMs = Number.NaN
    await until(() => {
      sample()
      const leaders = survivors.map((n) => n.party.status()?.leader)
      const ok =
        leaders[0] !== undefined && leaders[0] !== victim.id && leaders.every((l) => l === leaders[0])
      if (ok && Number.isNaN(electionMs)) electionMs = performance.now() - killedAt
      return ok && survivors.every((n) => n.party.status()?.hostPeerId === leaders[0])
    }, 'a new host')
    const hostChangedMs = performance.now() - killedAt
    const sampleUntil = performance.now() + 1_000
    while (performance.now() < sampleUntil) {
      sample()
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const maxJumpMs = Math.max(...jumps.values())
    const maxGapMs = Math.max(
      ...survivors.map(
        (n) =>
          n.player.stoppedMs -
          (gapBefore.get(n.id) ?? 0) +
          (n.player.stoppedSince === undefined ? 0 : performance.now() - n.player.stoppedSince),
      ),
    )
    rounds.push({ electionMs, hostChangedMs, maxJumpMs, maxGapMs })
    console.log(
      `party kill ${k + 1}/${kills}: new leader in ${electionMs.toFixed(0)} ms, host role committed in ${hostChangedMs.toFixed(0)} ms; per survivor: timeline jump ${[...jumps.values()].map((j) => j.toFixed(2)).join(' / ')} ms, playback gap max ${maxGapMs.toFixed(0)} ms`,
    )
  }
  for (const n of nodes) {
    await n.party.stop().catch(() => {})
    await Promise.resolve(n.libp2p.stop()).catch(() => {})
  }
  await rm(dir, { recursive: true, force: true })
  return { members: nodes.length, kills, rounds }
}
