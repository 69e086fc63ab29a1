// Election timing in the simulation with the node defaults (tick 50 ms, election 10–20 ticks, heartbeat every tick): prints p50/p99 of first election and failover; asserts only that a leader always emerges.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { measureFailover } from '../../src/raft/sim/sim.ts'

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]

test('failover time with default timeouts (printed, not asserted)', () => {
  const first: number[] = []
  const failover: number[] = []
  for (let seed = 1; seed <= 500; seed++) {
    const s = measureFailover(seed)
    first.push(s.firstElectionMs)
    failover.push(s.failoverMs)
  }
  first.sort((a, b) => a - b)
  failover.sort((a, b) => a - b)
  const line = (name: string, xs: number[]) =>
    `${name}: p50 ${pct(xs, 50).toFixed(0)} ms, p90 ${pct(xs, 90).toFixed(0)} ms, p99 ${pct(xs, 99).toFixed(0)} ms, max ${xs.at(-1)?.toFixed(0)} ms`
  console.log(
    `500 runs, 3 or 5 voters, 1–10 ms links\n  ${line('first election', first)}\n  ${line('leader crash -> new leader', failover)}`,
  )
  assert.equal(failover.length, 500)
})
