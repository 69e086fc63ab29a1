/**
 * Failover benchmark: a five-member party group as separate processes,
 * the leader SIGKILLed again and again (KILLS, default 20) while a client
 * keeps submitting commands through whoever leads. Reports election time
 * (kill → a survivor announces a new leader) p50/p99 and how many
 * acknowledged commands are missing from any survivor afterwards (must be 0).
 *
 *   npm run bench:failover            KILLS=5 npm run bench:failover
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ProcessGroup } from '../test/replication/fixtures/process-group.ts'

const KILLS = Number(process.env.KILLS ?? 20)
const SIZE = 5

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i]
}

const root = await mkdtemp(join(tmpdir(), 'tutti-bench-failover-'))
const started = performance.now()
const g = await ProcessGroup.create(SIZE, root)
console.log(`${SIZE} member processes up in ${((performance.now() - started) / 1000).toFixed(1)} s`)

const acked: number[] = []
let submitted = 0
let running = true
// A client that never stops submitting: commands in flight during a kill may
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
for (let k = 0; k < KILLS; k++) {
  const before = acked.length
  while (acked.length < before + 5) await new Promise((resolve) => setTimeout(resolve, 20))
  const victim = g.currentLeader()
  if (victim < 0) throw new Error('no leader before the kill')
  const killedAt = await g.kill(victim)
  const ackedAtKill = acked.length
  const next = await g.waitNewLeader(killedAt, victim)
  const electionMs = next.at - killedAt
  elections.push(electionMs)
  // Time until the client gets its next acknowledgement: what a user feels.
  while (acked.length === ackedAtKill) await new Promise((resolve) => setTimeout(resolve, 5))
  commandGaps.push(performance.now() - killedAt)
  console.log(
    `kill ${k + 1}/${KILLS}: member ${victim} → leader ${g.indexOf(next.leader)} in ${electionMs.toFixed(0)} ms (term ${next.term}); next ack after ${commandGaps.at(-1)?.toFixed(0)} ms`,
  )
  await g.start(victim)
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
  members: SIZE,
  kills: KILLS,
  electionMs: {
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    min: sorted[0],
    max: sorted.at(-1),
    all: elections,
  },
  killToNextAckMs: { p50: quantile(gaps, 0.5), p99: quantile(gaps, 0.99), max: gaps.at(-1) },
  submitted,
  acknowledged: acked.length,
  acknowledgedLost: lost,
  replicasAgree: sameIndex && sameHistory,
  playbackGap:
    'not measured: the party service does not run on this log yet; playback gap and timeline jump at failover need it',
}
console.log(
  `election time  p50 ${result.electionMs.p50.toFixed(0)} ms  p99 ${result.electionMs.p99.toFixed(0)} ms  (min ${result.electionMs.min?.toFixed(0)}, max ${result.electionMs.max?.toFixed(0)}, n=${KILLS})`,
)
console.log(
  `kill → next acknowledged command  p50 ${result.killToNextAckMs.p50.toFixed(0)} ms  p99 ${result.killToNextAckMs.p99.toFixed(0)} ms`,
)
console.log(`acknowledged ${acked.length} of ${submitted} submitted; acknowledged commands lost: ${lost}`)
for (const line of lostDetail.slice(0, 10)) console.log(`  ${line}`)
console.log(`replicas agree (commit index and the order of every command): ${sameIndex && sameHistory}`)
console.log(`playback gap / timeline jump: ${result.playbackGap}`)
await mkdir(new URL('./results/', import.meta.url), { recursive: true })
await writeFile(new URL('./results/failover.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`)
process.exit(lost === 0 && result.replicasAgree ? 0 : 1)
