// Election timing in the simulation with the node defaults (tick 50 ms, election timeout 11–20 ticks, heartbeat every tick), 500 seeds of 3 or 5 voters on 1–10 ms links. Virtual time is deterministic, so the bounds the design promises are asserted for every seed: nobody campaigns before its election timeout, a leader is always elected within a few timeouts, a killed leader (connection closed) is replaced before any election timeout could have run out, a silently cut one only after its lease; p50/p90/p99 are printed.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { measureFailover } from '../../src/raft/sim/sim.ts'

const TICK_MS = 50
const ELECTION_TICKS = 10
const HEARTBEAT_TICKS = 1
const SEEDS = 500
/** Shortest election timeout (random in (n, 2n] ticks; the first tick falls anywhere in the first 50 ms). */
const MIN_TIMEOUT_MS = ELECTION_TICKS * TICK_MS
/** Longest election timeout. */
const MAX_TIMEOUT_MS = 2 * ELECTION_TICKS * TICK_MS

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]
const line = (name: string, xs: number[]) =>
  `${name}: p50 ${pct(xs, 50).toFixed(0)} ms, p90 ${pct(xs, 90).toFixed(0)} ms, p99 ${pct(xs, 99).toFixed(0)} ms, max ${xs.at(-1)?.toFixed(0)} ms`

function measure(notice: boolean): {
  first: number[]
  failover: number[]
  worst: { seed: number; ms: number }
} {
  const first: number[] = []
  const failover: number[] = []
  let worst = { seed: 0, ms: -1 }
  for (let seed = 1; seed <= SEEDS; seed++) {
    const s = measureFailover(seed, TICK_MS, ELECTION_TICKS, HEARTBEAT_TICKS, notice)
    first.push(s.firstElectionMs)
    failover.push(s.failoverMs)
    if (s.failoverMs > worst.ms) worst = { seed, ms: s.failoverMs }
  }
  first.sort((a, b) => a - b)
  failover.sort((a, b) => a - b)
  return { first, failover, worst }
}

describe('election time (virtual)', () => {
  it('a cluster elects its first leader after one election timeout and within a few, in every seed', () => {
    const { first } = measure(true)
    console.log(`${SEEDS} seeds  ${line('first election', first)}`)
    assert.equal(first.length, SEEDS)
    // Nobody campaigns before its randomized timeout has run out.
    assert.ok(first[0] >= MIN_TIMEOUT_MS, `first election at ${first[0]} ms, before ${MIN_TIMEOUT_MS} ms`)
    // Always a leader: even after a split vote or two (each costs at most one more timeout).
    const last = first.at(-1) as number
    assert.ok(last <= 3 * MAX_TIMEOUT_MS, `a seed took ${last} ms to elect a first leader`)
    assert.ok(pct(first, 99) <= MAX_TIMEOUT_MS + 100, `p99 first election ${pct(first, 99)} ms`)
  })

  it('a killed leader (its connections close) is replaced before any election timeout, in every seed', () => {
    const { failover, worst } = measure(true)
    console.log(`${SEEDS} seeds  ${line('leader killed -> new leader', failover)}`)
    // The survivors campaign on the connection close (1 + 2·rank ticks), not on their election timers.
    assert.ok(
      worst.ms < MIN_TIMEOUT_MS,
      `seed ${worst.seed}: ${worst.ms.toFixed(0)} ms, not faster than an election timeout (${MIN_TIMEOUT_MS} ms)`,
    )
  })

  it('a silently cut leader is replaced only after its lease, and within a few timeouts, in every seed', () => {
    const { failover, worst } = measure(false)
    console.log(`${SEEDS} seeds  ${line('leader cut off -> new leader', failover)}`)
    // Followers heard a heartbeat at most one heartbeat interval before the cut and honour it for a full timeout.
    const lease = (ELECTION_TICKS - HEARTBEAT_TICKS) * TICK_MS
    assert.ok(failover[0] >= lease, `a successor was elected ${failover[0].toFixed(0)} ms after the cut`)
    assert.ok(
      worst.ms <= 3 * MAX_TIMEOUT_MS,
      `seed ${worst.seed}: no new leader for ${worst.ms.toFixed(0)} ms after the cut`,
    )
  })
})
