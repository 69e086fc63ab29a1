// The leader-ordered party log and the member replica: commit order, catch-up ranges, gaps detected, future-stamped changes not heard early.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createLeaderLog, GapError, PartyReplica } from '../../src/party/log.ts'
import { createPartyState, currentEntryAt, type PartyLogEntry } from '../../src/party/state.ts'

const initial = () => createPartyState({ id: 'p', name: 'P', hostPeerId: 'h', hostName: 'H' })
const song = { cid: 'c1', title: 't', artist: 'a', durationSec: 100 }

describe('leader log', () => {
  it('commits in order, tells listeners, and serves catch-up ranges until compacted', async () => {
    const log = createLeaderLog({ initialState: initial(), retain: 2 })
    const seen: number[] = []
    log.onCommitted((c) => seen.push(c.index))
    const a = await log.propose({ command: { type: 'enqueue', song }, from: 'h', effectivePartyTime: 0 })
    const b = await log.propose({ command: { type: 'play' }, from: 'stranger', effectivePartyTime: 1 })
    const c = await log.propose({ command: { type: 'play' }, from: 'h', effectivePartyTime: 2 })
    assert.deepEqual([a.index, b.index, c.index], [1, 2, 3])
    assert.equal(b.result.ok, false, 'a refused command is still ordered, with its refusal')
    assert.deepEqual(seen, [1, 2, 3])
    assert.deepEqual(
      log.entriesAfter(1)?.map((e) => e.index),
      [2, 3],
    )
    assert.equal(log.entriesAfter(0), undefined, 'entry 1 was compacted: a snapshot is needed')
    assert.deepEqual(log.entriesAfter(3), [])
  })
})

describe('replica', () => {
  const entries: PartyLogEntry[] = [
    { command: { type: 'enqueue', song }, from: 'h', effectivePartyTime: 0 },
    { command: { type: 'play' }, from: 'h', effectivePartyTime: 1_000 },
    { command: { type: 'pause' }, from: 'h', effectivePartyTime: 5_000 },
  ]

  it('applies in order, ignores duplicates and detects gaps', () => {
    const r = new PartyReplica(initial(), 0)
    r.apply(1, entries[0])
    assert.equal(r.apply(1, entries[0]), undefined)
    assert.throws(() => r.apply(3, entries[2]), GapError)
    r.apply(2, entries[1])
    assert.equal(r.index, 2)
  })

  it('does not let a change be heard before its effective party time', () => {
    const r = new PartyReplica(initial(), 0)
    for (const [i, e] of entries.entries()) r.apply(i + 1, e)
    // Committed: paused at 4 s. In force at 3 s: still playing.
    assert.equal(r.state.timeline.paused, true)
    const at3 = currentEntryAt(r.stateAt(3_000), 3_000)
    assert.equal(at3.playing, true)
    assert.equal(at3.position, 2)
    assert.equal(r.nextChangeAfter(3_000), 5_000)
    assert.equal(currentEntryAt(r.stateAt(9_000), 9_000).position, 4)
    assert.equal(r.nextChangeAfter(9_000), undefined)
  })
})
