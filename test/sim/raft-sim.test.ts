// Seeded deterministic simulation of Raft under faults (1,000 schedules): one leader per term, committed logs agree, acknowledged commands survive on every live member, state machines never diverge; seeds replay exactly.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runSimulation } from '../../src/raft/sim/sim.ts'

const fixed = process.env.SIM_SEED
const count = Number(process.env.SIM_COUNT ?? 1000)
const first = Number(process.env.SIM_FIRST ?? 1)

test('raft stays safe over random fault schedules', () => {
  const seeds = fixed ? [Number(fixed)] : Array.from({ length: count }, (_, i) => first + i)
  const started = performance.now()
  const totals = { acked: 0, leaderTerms: 0, crashes: 0, partitions: 0, confChanges: 0, snapshotsSent: 0 }
  for (const seed of seeds) {
    try {
      const stats = runSimulation({ seed })
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += stats[k]
    } catch (err) {
      console.error(`replay: SIM_SEED=${seed} node --test test/sim/raft-sim.test.ts`)
      throw err
    }
  }
  const ms = (performance.now() - started).toFixed(0)
  console.log(`${seeds.length} schedules in ${ms} ms (hash-chain state machine): ${JSON.stringify(totals)}`)
  assert.ok(totals.acked > 0)
})

test('a seed replays exactly', () => {
  const seed = Number(fixed ?? 4242)
  const a = runSimulation({ seed })
  const b = runSimulation({ seed })
  assert.deepEqual(a, b)
  assert.notDeepEqual(runSimulation({ seed: seed + 1 }).fingerprint, a.fingerprint)
})
