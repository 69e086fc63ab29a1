// Failover in the pure state machine: a command retried with the same request id is applied once; set-host moves the host role to the node that claims it, and only that node may claim it.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { applyCommand, createPartyState, type PartyState } from '../../src/party/state.ts'

const HOST = 'host-peer'
const ALICE = 'alice-peer'

function party(): PartyState {
  let s = createPartyState({
    id: 'p1',
    name: 'Friday',
    hostPeerId: HOST,
    hostName: 'Host',
    joinPolicy: 'open',
  })
  s = applyCommand(s, { command: { type: 'join', name: 'Alice' }, from: ALICE, effectivePartyTime: 0 }).state
  return s
}

const song = { cid: 'bafy1', title: 'Song 1', artist: 'Band', durationSec: 120 }

describe('request ids', () => {
  it('a retried enqueue (same request id) is queued once and answers like the first time', () => {
    const entry = {
      command: { type: 'enqueue' as const, song },
      from: HOST,
      effectivePartyTime: 10,
      requestId: 'r1',
    }
    const first = applyCommand(party(), entry)
    const retry = applyCommand(first.state, { ...entry, effectivePartyTime: 500 })
    assert.equal(retry.state.queue.length, 1)
    assert.deepEqual(retry.result, first.result)
    // A different request id is a different command.
    const other = applyCommand(retry.state, { ...entry, requestId: 'r2' })
    assert.equal(other.state.queue.length, 2)
  })

  it('a refused command is not remembered: a retry is judged again', () => {
    const entry = {
      command: { type: 'skip' as const },
      from: 'stranger',
      effectivePartyTime: 0,
      requestId: 'r3',
    }
    const refused = applyCommand(party(), entry)
    assert.equal(refused.result.ok, false)
    assert.equal(refused.state.recentRequests, undefined)
  })
})

describe('set-host', () => {
  it('the claiming member becomes host and the old host a plain member who may now leave', () => {
    const s = applyCommand(party(), {
      command: { type: 'set-host', peerId: ALICE },
      from: ALICE,
      effectivePartyTime: 0,
      proposer: ALICE,
    })
    assert.ok(s.result.ok)
    assert.equal(s.state.hostPeerId, ALICE)
    assert.equal(s.state.members.find((m) => m.peerId === ALICE)?.role, 'host')
    assert.equal(s.state.members.find((m) => m.peerId === HOST)?.role, 'member')
    const left = applyCommand(s.state, { command: { type: 'leave' }, from: HOST, effectivePartyTime: 0 })
    assert.ok(left.result.ok)
    assert.equal(left.state.members.length, 1)
  })

  it('nobody can make someone else the host, and strangers cannot claim it', () => {
    const forged = applyCommand(party(), {
      command: { type: 'set-host', peerId: ALICE },
      from: HOST,
      effectivePartyTime: 0,
    })
    assert.equal(forged.result.ok, false)
    const stranger = applyCommand(party(), {
      command: { type: 'set-host', peerId: 'stranger' },
      from: 'stranger',
      effectivePartyTime: 0,
    })
    assert.equal(stranger.result.ok, false)
    assert.equal(stranger.state.hostPeerId, HOST)
  })
})
