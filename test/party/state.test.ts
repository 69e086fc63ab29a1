// The pure party state machine: membership, permissions, queue edits, gapless timeline, late-join positions, determinism.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  applyCommand,
  applyLog,
  createPartyState,
  currentEntryAt,
  type PartyCommand,
  type PartyLogEntry,
  type PartyState,
  scheduleFrom,
} from '../../src/party/state.ts'

const HOST = 'host-peer'
const ALICE = 'alice-peer'
const BOB = 'bob-peer'

function song(n: number, durationSec = 180) {
  return { cid: `bafy${n}`, title: `Song ${n}`, artist: 'Band', durationSec }
}

function run(state: PartyState, from: string, command: PartyCommand, effectivePartyTime = 0) {
  return applyCommand(state, { command, from, effectivePartyTime })
}

/** Applies commands expecting every one to succeed. */
function must(state: PartyState, from: string, command: PartyCommand, t = 0): PartyState {
  const { state: next, result } = run(state, from, command, t)
  assert.ok(result.ok, `${command.type} from ${from} refused: ${!result.ok ? result.reason : ''}`)
  return next
}

function party(opts: Partial<Parameters<typeof createPartyState>[0]> = {}) {
  return createPartyState({ id: 'p1', name: 'Friday', hostPeerId: HOST, hostName: 'Host', ...opts })
}

describe('membership', () => {
  it('an open party admits a joiner at once; approve-only parties queue the request', () => {
    let s = must(party(), ALICE, { type: 'join', name: 'Alice' })
    assert.deepEqual(
      s.members.map((m) => [m.peerId, m.role]),
      [
        [HOST, 'host'],
        [ALICE, 'member'],
      ],
    )
    s = must(party({ joinPolicy: 'approve' }), ALICE, { type: 'join', name: 'Alice' }, 5)
    assert.equal(s.members.length, 1)
    assert.deepEqual(s.pending, [{ peerId: ALICE, name: 'Alice', requestedAt: 5 }])
    // Only the host approves.
    const byBob = run(s, BOB, { type: 'approve', peerId: ALICE })
    assert.equal(byBob.result.ok, false)
    s = must(s, HOST, { type: 'approve', peerId: ALICE })
    assert.equal(s.pending.length, 0)
    assert.ok(s.members.some((m) => m.peerId === ALICE))
  })

  it('rejected and removed members are gone; they can join again', () => {
    let s = must(party({ joinPolicy: 'approve' }), ALICE, { type: 'join', name: 'Alice' })
    s = must(s, HOST, { type: 'reject', peerId: ALICE })
    assert.equal(s.pending.length, 0)
    assert.equal(s.members.length, 1)
    s = must(party(), ALICE, { type: 'join', name: 'Alice' })
    s = must(s, HOST, { type: 'remove-member', peerId: ALICE })
    assert.equal(run(s, ALICE, { type: 'enqueue', song: song(1) }).result.ok, false)
    s = must(s, ALICE, { type: 'join', name: 'Alice again' })
    assert.equal(s.members.find((m) => m.peerId === ALICE)?.name, 'Alice again')
  })

  it('the host can neither leave nor be removed', () => {
    const s = party()
    assert.equal(run(s, HOST, { type: 'leave' }).result.ok, false)
    assert.equal(run(s, HOST, { type: 'remove-member', peerId: HOST }).result.ok, false)
  })
})

describe('permissions', () => {
  const base = () =>
    must(must(party(), ALICE, { type: 'join', name: 'Alice' }), BOB, { type: 'join', name: 'Bob' })

  it('non-members are refused with a clear reason', () => {
    const before = must(party(), HOST, { type: 'enqueue', song: song(1) })
    const { result, state } = run(before, 'stranger', { type: 'play' })
    assert.equal(result.ok, false)
    if (!result.ok) {
      assert.equal(result.code, 'not-member')
      assert.match(result.reason, /not a member/)
    }
    assert.deepEqual(state, before)
  })

  it('host-only: members cannot touch the music, the host can', () => {
    let s = must(base(), HOST, { type: 'set-permissions', mode: 'host-only' })
    const refused = run(s, ALICE, { type: 'enqueue', song: song(1) })
    assert.equal(refused.result.ok, false)
    if (!refused.result.ok) {
      assert.equal(refused.result.code, 'forbidden')
      assert.match(refused.result.reason, /only the host/)
    }
    assert.equal(refused.state.queue.length, 0)
    s = must(s, HOST, { type: 'enqueue', song: song(1) })
    assert.equal(s.queue.length, 1)
  })

  it('djs mode: named DJs and the host control the music, others do not', () => {
    let s = must(base(), HOST, { type: 'set-permissions', mode: 'djs', djs: [ALICE] })
    assert.equal(s.members.find((m) => m.peerId === ALICE)?.role, 'dj')
    s = must(s, ALICE, { type: 'enqueue', song: song(1) })
    const bob = run(s, BOB, { type: 'play' })
    assert.equal(bob.result.ok, false)
    if (!bob.result.ok) assert.match(bob.result.reason, /DJs/)
    // Members cannot change permissions.
    assert.equal(run(s, ALICE, { type: 'set-permissions', mode: 'everyone' }).result.ok, false)
  })

  it('a member cannot make itself the host: set-host counts only as the proposer’s own claim', () => {
    const s = base()
    const claim = { type: 'set-host' as const, peerId: ALICE }
    // Submitted by Alice through the host (the host proposes it), or with no proposer at all: refused.
    for (const proposer of [HOST, undefined]) {
      const r = applyCommand(s, { command: claim, from: ALICE, effectivePartyTime: 0, proposer })
      assert.equal(r.result.ok, false, `set-host with proposer ${proposer} was accepted`)
      if (!r.result.ok) {
        assert.equal(r.result.code, 'forbidden')
        assert.match(r.result.reason, /only the elected leader/)
      }
      assert.equal(r.state.hostPeerId, HOST)
      assert.equal(r.state.members.find((m) => m.peerId === ALICE)?.role, 'member')
    }
    // Alice, elected leader, proposing her own claim: she becomes the host.
    const won = applyCommand(s, { command: claim, from: ALICE, effectivePartyTime: 0, proposer: ALICE })
    assert.ok(won.result.ok)
    assert.equal(won.state.hostPeerId, ALICE)
  })

  it('after the party ends every command is refused', () => {
    const s = must(base(), HOST, { type: 'end' })
    const r = run(s, ALICE, { type: 'enqueue', song: song(1) })
    assert.equal(r.result.ok, false)
    if (!r.result.ok) assert.equal(r.result.code, 'ended')
  })
})

describe('gapless timeline', () => {
  it('the next song starts at exactly the end of the previous one', () => {
    let s = party()
    s = must(s, HOST, { type: 'enqueue', song: song(1, 10.5) })
    s = must(s, HOST, { type: 'enqueue', song: song(2, 20.25) })
    s = must(s, HOST, { type: 'enqueue', song: song(3, 5) })
    s = must(s, HOST, { type: 'play' }, 1_000)
    assert.equal(currentEntryAt(s, 1_000).entry?.cid, 'bafy1')
    assert.equal(currentEntryAt(s, 11_499.999).entry?.cid, 'bafy1')
    const at = currentEntryAt(s, 11_500)
    assert.equal(at.entry?.cid, 'bafy2')
    assert.equal(at.position, 0)
    const later = currentEntryAt(s, 1_000 + (10.5 + 20.25 + 1) * 1000)
    assert.equal(later.entry?.cid, 'bafy3')
    assert.ok(Math.abs(later.position - 1) < 1e-9)
    const sched = scheduleFrom(s, 2_000)
    assert.deepEqual(
      sched.map((e) => [e.entry.cid, e.startPartyTime, e.endPartyTime]),
      [
        ['bafy1', 1_000, 11_500],
        ['bafy2', 11_500, 31_750],
        ['bafy3', 31_750, 36_750],
      ],
    )
    // Past the last song: finished and silent.
    const end = currentEntryAt(s, 100_000)
    assert.equal(end.finished, true)
    assert.equal(end.playing, false)
  })

  it('a late joiner computes the same position from the same state at any party time', () => {
    let s = party()
    s = must(s, HOST, { type: 'enqueue', song: song(1, 100) })
    s = must(s, HOST, { type: 'enqueue', song: song(2, 100) })
    s = must(s, HOST, { type: 'play' }, 0)
    s = must(s, HOST, { type: 'pause' }, 30_000)
    s = must(s, HOST, { type: 'play' }, 50_000)
    s = must(s, ALICE, { type: 'join', name: 'Alice' }, 60_000)
    // The joiner arrives at party time 140 s: 30 s played before the pause, then 90 s more → song 2 at 20 s.
    const late = currentEntryAt(structuredClone(s), 140_000)
    assert.equal(late.entry?.cid, 'bafy2')
    assert.ok(Math.abs(late.position - 20) < 1e-9)
  })

  it('pause, seek, skip and previous move the playhead where a listener expects', () => {
    let s = party()
    for (let i = 1; i <= 3; i++) s = must(s, HOST, { type: 'enqueue', song: song(i, 60) })
    s = must(s, HOST, { type: 'play' }, 0)
    s = must(s, HOST, { type: 'pause' }, 10_000)
    assert.equal(currentEntryAt(s, 99_000).position, 10)
    assert.equal(currentEntryAt(s, 99_000).playing, false)
    s = must(s, HOST, { type: 'seek', position: 42 }, 99_000)
    assert.equal(currentEntryAt(s, 200_000).position, 42)
    s = must(s, HOST, { type: 'play' }, 200_000)
    s = must(s, HOST, { type: 'skip' }, 201_000)
    assert.equal(currentEntryAt(s, 201_000).entry?.cid, 'bafy2')
    assert.equal(currentEntryAt(s, 202_000).position, 1)
    // Early in a song, previous goes back a song; later it restarts the song.
    s = must(s, HOST, { type: 'previous' }, 202_000)
    assert.equal(currentEntryAt(s, 202_000).entry?.cid, 'bafy1')
    s = must(s, HOST, { type: 'previous' }, 212_000)
    const restarted = currentEntryAt(s, 212_000)
    assert.equal(restarted.entry?.cid, 'bafy1')
    assert.equal(restarted.position, 0)
  })

  it('queue edits do not rewrite what already played', () => {
    let s = party()
    for (let i = 1; i <= 4; i++) s = must(s, HOST, { type: 'enqueue', song: song(i, 10) })
    s = must(s, HOST, { type: 'play' }, 0)
    // At 15 s song 2 plays at 5 s; moving song 4 to the front must not change that.
    s = must(s, HOST, { type: 'move', entryId: s.queue[3].entryId, toIndex: 0 }, 15_000)
    const now = currentEntryAt(s, 15_000)
    assert.equal(now.entry?.cid, 'bafy2')
    assert.equal(now.position, 5)
    // Removing the current song starts the next one right away.
    s = must(s, HOST, { type: 'remove', entryId: now.entry.entryId }, 16_000)
    assert.equal(s.queue.length, 3)
    const after = currentEntryAt(s, 16_000)
    assert.equal(after.entry?.cid, 'bafy3')
    assert.equal(after.position, 0)
  })

  it('enqueue after the queue finished waits for play; play then starts the new song', () => {
    let s = must(party(), HOST, { type: 'enqueue', song: song(1, 10) })
    s = must(s, HOST, { type: 'play' }, 0)
    s = must(s, HOST, { type: 'enqueue', song: song(2, 10) }, 50_000)
    assert.equal(currentEntryAt(s, 60_000).playing, false)
    s = must(s, HOST, { type: 'play' }, 60_000)
    const now = currentEntryAt(s, 61_000)
    assert.equal(now.entry?.cid, 'bafy2')
    assert.equal(now.position, 1)
  })

  it('enqueue with next=true plays right after the current song', () => {
    let s = party()
    for (let i = 1; i <= 3; i++) s = must(s, HOST, { type: 'enqueue', song: song(i, 10) })
    s = must(s, HOST, { type: 'play' }, 0)
    s = must(s, HOST, { type: 'enqueue', song: song(9, 10), next: true }, 1_000)
    assert.deepEqual(
      s.queue.map((e) => e.cid),
      ['bafy1', 'bafy9', 'bafy2', 'bafy3'],
    )
    assert.equal(currentEntryAt(s, 10_000).entry?.cid, 'bafy9')
  })
})

describe('determinism', () => {
  it('two replicas applying the same log agree, whatever the interleaving of refused commands', () => {
    const seed = 12345
    let x = seed
    const rand = () => {
      x = (x * 1103515245 + 12345) % 2 ** 31
      return x / 2 ** 31
    }
    const peers = [HOST, ALICE, BOB, 'stranger']
    const log: PartyLogEntry[] = []
    let t = 0
    for (let i = 0; i < 500; i++) {
      t += Math.floor(rand() * 5_000)
      const from = peers[Math.floor(rand() * peers.length)]
      const kinds: PartyCommand[] = [
        { type: 'join', name: from },
        { type: 'enqueue', song: song(i, 1 + rand() * 20) },
        { type: 'play' },
        { type: 'pause' },
        { type: 'skip' },
        { type: 'previous' },
        { type: 'seek', position: rand() * 10 },
        { type: 'leave' },
        { type: 'move', entryId: `e${1 + Math.floor(rand() * i)}`, toIndex: Math.floor(rand() * 5) },
        { type: 'remove', entryId: `e${1 + Math.floor(rand() * i)}` },
      ]
      log.push({ command: kinds[Math.floor(rand() * kinds.length)], from, effectivePartyTime: t })
    }
    const a = applyLog(party(), log)
    const b = applyLog(structuredClone(party()), structuredClone(log))
    assert.deepEqual(a, b, `seed ${seed}`)
    // And the derived playhead agrees everywhere.
    for (let q = 0; q < t; q += 7_919)
      assert.deepEqual(currentEntryAt(a, q), currentEntryAt(b, q), `seed ${seed}`)
  })
})

describe('readiness', () => {
  it('a song is playable from the swarm only when the missing bytes arrive before they are needed', async () => {
    const { canPlayInTime, readinessOf } = await import('../../src/party/readiness.ts')
    // 4 MB, 200 s; half there. 2 MB at 100 kB/s (÷1.25 headroom) takes 25 s < 200 s left: fine.
    assert.equal(canPlayInTime({ size: 4e6, bytesDone: 2e6, rateBps: 1e5 }, 200), true)
    // At 10 kB/s it would take 250 s: not in time.
    assert.equal(canPlayInTime({ size: 4e6, bytesDone: 2e6, rateBps: 1e4 }, 200), false)
    // Joining late (190 s in) leaves 10 s: too little even at 100 kB/s.
    assert.equal(canPlayInTime({ size: 4e6, bytesDone: 2e6, rateBps: 1e5 }, 200, 190), false)
    assert.equal(readinessOf(true, undefined, 200), 'local')
    assert.equal(readinessOf(false, undefined, 200), 'missing')
    assert.equal(readinessOf(false, { size: 4e6, bytesDone: 4e6, rateBps: 0 }, 200), 'ready')
    assert.equal(readinessOf(false, { size: 4e6, bytesDone: 0, rateBps: 0 }, 200), 'arriving')
  })
})
