// Raft wire format: every message type survives CBOR + schema round trips; malformed or oversized frames are rejected with WireError.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encode } from 'cborg'
import type { Message } from '../../src/raft/messages.ts'
import {
  decodeRaftMessage,
  encodeRaftMessage,
  MAX_BATCH_BYTES,
  MAX_RAFT_FRAME_BYTES,
} from '../../src/raft/wire.ts'
import { Cluster, cmd } from './cluster.ts'

const env = { from: '12D3KooWA', to: '12D3KooWB', term: 7 }
const samples: Message[] = [
  {
    type: 'append',
    ...env,
    index: 4,
    logTerm: 6,
    commit: 3,
    entries: [{ index: 5, term: 7, type: 'normal', data: cmd('enqueue') }],
  },
  { type: 'appendResponse', ...env, index: 5, reject: false, hintIndex: 0 },
  { type: 'vote', ...env, lastIndex: 9, lastTerm: 6, transfer: false },
  { type: 'preVote', ...env, lastIndex: 9, lastTerm: 6, transfer: true },
  { type: 'voteResponse', ...env, reject: true },
  { type: 'preVoteResponse', ...env, reject: false },
  { type: 'heartbeat', ...env, commit: 3 },
  { type: 'heartbeatResponse', ...env },
  {
    type: 'snapshot',
    ...env,
    snapshot: { index: 9, term: 6, conf: { voters: ['a'], learners: ['b'] }, data: cmd('state') },
  },
  { type: 'timeoutNow', ...env },
]

test('every message type round-trips', () => {
  for (const m of samples) assert.deepEqual(decodeRaftMessage(encodeRaftMessage(m)), m)
})

test('malformed messages are rejected with WireError', () => {
  const bad: unknown[] = [
    { type: 'append', ...env },
    { type: 'gossip', ...env },
    { type: 'heartbeat', ...env, term: -1, commit: 0 },
    { type: 'heartbeat', ...env, from: '', commit: 0 },
    {
      type: 'append',
      ...env,
      index: 0,
      logTerm: 0,
      commit: 0,
      entries: [{ index: 1, term: 1, type: 'normal', data: 'not bytes' }],
    },
    {
      type: 'append',
      ...env,
      index: 0,
      logTerm: 0,
      commit: 0,
      entries: [{ index: 1, term: 1, type: 'normal', data: new Uint8Array(300 * 1024) }],
    },
  ]
  for (const m of bad) assert.throws(() => decodeRaftMessage(encode(m)), { name: 'WireError' })
  assert.throws(() => decodeRaftMessage(new Uint8Array([0xff, 0x00, 0x13])), { name: 'WireError' })
  assert.throws(() => decodeRaftMessage(new Uint8Array(MAX_RAFT_FRAME_BYTES + 1)), { name: 'WireError' })
})

test('a leader catching up a follower batches about 256 KiB per append, each within the frame bound', () => {
  const c = new Cluster(['a', 'b'])
  c.raft('a').campaign()
  c.flush()
  c.filter = (m) => (m.to === 'b' ? null : m)
  for (let i = 0; i < 40; i++) c.raft('a').propose(new Uint8Array(32 * 1024).fill(i))
  c.flush()
  const sizes: number[] = []
  c.filter = (m) => {
    if (m.type === 'append' && m.entries.length > 0) sizes.push(encodeRaftMessage(m).byteLength)
    return m
  }
  c.tickAll(3)
  assert.ok(sizes.length >= 5, `catch-up took ${sizes.length} appends`)
  for (const s of sizes)
    assert.ok(s <= MAX_BATCH_BYTES + 64 * 1024 && s <= MAX_RAFT_FRAME_BYTES, `append of ${s} bytes`)
  assert.equal(c.raft('b').log.committed, c.raft('a').log.committed)
})
