// The real party state machine replicated by Raft under faults: replicas agree, and the party timeline never goes backwards or jumps across leader changes.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runSimulation } from '../../src/raft/sim/sim.ts'
import { partyCommand, partyMachine } from './party-machine.ts'

const fixed = process.env.SIM_SEED
const count = Number(process.env.SIM_COUNT ?? 300)
const first = Number(process.env.SIM_FIRST ?? 100_001)

test('party timeline stays continuous across leader changes', () => {
  const seeds = fixed ? [Number(fixed)] : Array.from({ length: count }, (_, i) => first + i)
  const started = performance.now()
  let acked = 0
  for (const seed of seeds) {
    // Each node's clock is off by up to ±100 ms: a new leader may run behind the old one.
    const skew = (node: string) => ((seed * 7919 + node.charCodeAt(1) * 104_729) % 201) - 100
    try {
      acked += runSimulation({ seed, machine: partyMachine, command: partyCommand(skew) }).acked
    } catch (err) {
      console.error(`replay: SIM_SEED=${seed} node --test test/sim/party-sim.test.ts`)
      throw err
    }
  }
  console.log(
    `${seeds.length} party schedules, ${acked} acknowledged commands, ${(performance.now() - started).toFixed(0)} ms`,
  )
  assert.ok(acked > 0)
})
