// Seeded deterministic simulation of Raft under faults: one leader per term, committed logs agree, acknowledged commands survive, state machines never diverge.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runSimulation, SimViolation } from '../../src/raft/sim/sim.ts'

const fixed = process.env.SIM_SEED
const count = Number(process.env.SIM_COUNT ?? 100)
const first = Number(process.env.SIM_FIRST ?? 1)

test('raft survives random schedules', () => {
  const seeds = fixed ? [Number(fixed)] : Array.from({ length: count }, (_, i) => first + i)
  const started = performance.now()
  let acked = 0
  for (const seed of seeds) {
    try {
      const stats = runSimulation({ seed })
      acked += stats.acked
    } catch (err) {
      if (err instanceof SimViolation) {
        console.error(`replay: SIM_SEED=${seed} node --test test/sim/raft-sim.test.ts`)
      }
      throw err
    }
  }
  console.log(
    `${seeds.length} schedules, ${acked} acknowledged commands, ${(performance.now() - started).toFixed(0)} ms`,
  )
  assert.ok(acked > 0)
})
