/**
 * The real party state machine (src/party/state.ts) as the simulation's
 * replicated state machine, with timeline checks on every apply:
 * - effective party times never go backwards in log order (a new leader
 *   stamps at or after the last time in its log, even with a slower clock);
 * - commands that do not move the playhead leave what plays at their
 *   effective time unchanged (no jump, no gap across leader changes).
 */

import {
  applyCommand,
  createPartyState,
  currentEntryAt,
  type PartyCommand,
  type PartyLogEntry,
  type PartyState,
} from '../../src/party/state.ts'
import type { CommandContext } from '../../src/raft/sim/sim.ts'
import type { SimStateMachine, SimStateMachineFactory } from '../../src/raft/sim/state-machine.ts'

const enc = new TextEncoder()
const dec = new TextDecoder()
const HOST = 'host-peer'
const LEAD_MS = 150

interface PartySnapshot {
  state: PartyState
  lastEffective: number
}

export interface PartyMachine extends SimStateMachine {
  state(): PartyState
  lastEffective(): number
}

export const partyMachine: SimStateMachineFactory = {
  name: 'party state machine (src/party/state.ts)',
  create(snapshot) {
    let s: PartySnapshot = snapshot
      ? (JSON.parse(dec.decode(snapshot)) as PartySnapshot)
      : {
          state: createPartyState({ id: 'p1', name: 'Sim party', hostPeerId: HOST, hostName: 'Host' }),
          lastEffective: 0,
        }
    const machine: PartyMachine = {
      apply(data) {
        const entry = JSON.parse(dec.decode(data)) as PartyLogEntry & { seq: number }
        const t = entry.effectivePartyTime
        if (t < s.lastEffective)
          throw new Error(`timeline goes backwards: command at ${t} after one at ${s.lastEffective}`)
        const before = currentEntryAt(s.state, t)
        const next = applyCommand(s.state, entry).state
        // (An empty or finished queue has no playhead to keep: an enqueue may start it.)
        if (keepsPlayhead(entry.command) && before.entry !== null && !before.finished) {
          const after = currentEntryAt(next, t)
          const moved =
            before.entry?.entryId !== after.entry?.entryId ||
            Math.abs(before.position - after.position) > 1e-6
          if (moved)
            throw new Error(
              `${entry.command.type} at ${t} moved the playhead: ${describe(before)} -> ${describe(after)}`,
            )
        }
        s = { state: next, lastEffective: t }
      },
      snapshot: () => enc.encode(JSON.stringify(s)),
      digest: () => fnv(JSON.stringify(s)),
      state: () => s.state,
      lastEffective: () => s.lastEffective,
    }
    return machine
  },
}

/** Commands that must not change what plays at their effective time. */
function keepsPlayhead(c: PartyCommand): boolean {
  if (c.type === 'pause' || c.type === 'rename' || c.type === 'join' || c.type === 'set-join-policy')
    return true
  if (c.type === 'enqueue') return true // appending never changes the current entry or its position
  return false
}

function describe(p: ReturnType<typeof currentEntryAt>): string {
  return `${p.entry?.entryId ?? 'none'}@${p.position.toFixed(3)}`
}

function fnv(text: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return `${text.length}:${h.toString(16)}`
}

/**
 * A random party command, stamped the way a leader must: its own clock plus
 * a lead, but never before the last effective time anywhere in its log
 * (committed or not: that tail commits before anything it proposes).
 */
export function partyCommand(skewMs: (node: string) => number) {
  return (ctx: CommandContext): Uint8Array => {
    const { rng } = ctx
    const state = (ctx.machine as PartyMachine).state()
    let last = (ctx.machine as PartyMachine).lastEffective()
    for (const e of ctx.raft.log.entries) {
      if (e.index > ctx.raft.log.applied && e.type === 'normal')
        last = Math.max(last, (JSON.parse(dec.decode(e.data)) as PartyLogEntry).effectivePartyTime)
    }
    const effectivePartyTime = Math.max(ctx.time + skewMs(ctx.raft.id) + LEAD_MS, last)
    const entryIds = state.queue.map((q) => q.entryId)
    const pickEntry = () => entryIds[rng.int(entryIds.length)]
    const roll = rng.int(10)
    let command: PartyCommand
    if (roll < 3 || entryIds.length === 0) {
      command = {
        type: 'enqueue',
        song: { cid: `cid${ctx.seq}`, title: `Song ${ctx.seq}`, artist: 'Sim', durationSec: 5 + rng.int(20) },
        next: rng.next() < 0.2,
      }
    } else if (roll === 3) command = { type: 'play' }
    else if (roll === 4) command = { type: 'pause' }
    else if (roll === 5) command = { type: 'seek', position: rng.next() * 5 }
    else if (roll === 6) command = rng.next() < 0.5 ? { type: 'skip' } : { type: 'previous' }
    else if (roll === 7) command = { type: 'remove', entryId: pickEntry() }
    else if (roll === 8) command = { type: 'move', entryId: pickEntry(), toIndex: rng.int(entryIds.length) }
    else command = { type: 'play', entryId: pickEntry() }
    return enc.encode(JSON.stringify({ command, from: HOST, effectivePartyTime, seq: ctx.seq }))
  }
}
