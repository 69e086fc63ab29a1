// Rate caps (token bucket) and choking decisions: the pure cores behind upload/download limits and upload slots.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decideUnchoked } from '../../src/swarm/choker.ts'
import { TokenBucket } from '../../src/swarm/token-bucket.ts'

test('a token bucket lets a burst through, then paces to its rate', () => {
  const bucket = new TokenBucket(100_000, 50_000)
  assert.equal(bucket.reserve(50_000, 0), 0)
  // The next 100 kB must wait a full second at 100 kB/s.
  assert.equal(bucket.reserve(100_000, 0), 1000)
  // Debt is paid back over time.
  assert.equal(bucket.reserve(0, 1000), 0)
  let sent = 0
  let t = 1000
  while (t < 11_000) {
    const wait = bucket.reserve(10_000, t)
    t += wait
    sent += 10_000
  }
  // ~10 s at 100 kB/s, plus at most one burst.
  assert.ok(sent <= 1_000_000 + 50_000 + 10_000, `sent ${sent}`)
  assert.ok(sent >= 1_000_000 - 10_000, `sent ${sent}`)
})

test('an uncapped bucket never waits', () => {
  const bucket = new TokenBucket(0)
  assert.equal(bucket.unlimited, true)
  assert.equal(bucket.reserve(1e12, 0), 0)
})

test('the choker unchokes the best uploaders plus one optimistic peer', () => {
  const peers = ['a', 'b', 'c', 'd', 'e'].map((id, i) => ({
    id,
    interested: id !== 'e',
    rateFromPeer: (i + 1) * 100,
    sentTotal: 0,
    tiebreak: i / 10,
  }))
  const d = decideUnchoked({
    peers,
    slots: 2,
    seeding: false,
    optimistic: undefined,
    rotate: true,
    random: 0,
  })
  assert.ok(d.unchoked.has('d') && d.unchoked.has('c'), 'the two fastest uploaders')
  assert.equal(d.unchoked.size, 3)
  assert.ok(d.optimistic === 'a' || d.optimistic === 'b')
  assert.ok(!d.unchoked.has('e'), 'uninterested peers stay choked')
  // Without rotation the optimistic peer keeps its slot.
  const again = decideUnchoked({
    peers,
    slots: 2,
    seeding: false,
    optimistic: d.optimistic,
    rotate: false,
    random: 0.99,
  })
  assert.equal(again.optimistic, d.optimistic)
  const rotated = decideUnchoked({
    peers,
    slots: 2,
    seeding: false,
    optimistic: 'a',
    rotate: true,
    random: 0.99,
  })
  assert.equal(rotated.optimistic, 'b')
})

test('a seed takes turns: its slots, twice the regular ones, go to the peers it has sent least', () => {
  const peers = ['a', 'b', 'c', 'd', 'e', 'f'].map((id, i) => ({
    id,
    interested: true,
    rateFromPeer: [0, 0, 0, 0, 0, 5][i]!,
    sentTotal: [4, 0, 9, 1, 7, 8][i]! * 65536,
    tiebreak: i / 10,
  }))
  const seed = decideUnchoked({ peers, slots: 2, seeding: true, optimistic: 'c', rotate: false, random: 0 })
  assert.deepEqual(
    [...seed.unchoked].sort(),
    ['a', 'b', 'c', 'd', 'e'],
    'b, d, a and e (least sent) plus the optimistic c',
  )
  // The same peers, while we still download: two regular slots, the fastest uploader first.
  const leech = decideUnchoked({ peers, slots: 2, seeding: false, optimistic: 'c', rotate: false, random: 0 })
  assert.deepEqual(
    [...leech.unchoked].sort(),
    ['a', 'c', 'f'],
    'f (uploads to us) and a (first tiebreak) plus the optimistic c',
  )
})

test('ties (every rate zero as a swarm starts) go by each node’s own random rank, not by peer id', () => {
  const peers = (ranks: number[]) =>
    ['a', 'b', 'c', 'd'].map((id, i) => ({
      id,
      interested: true,
      rateFromPeer: 0,
      sentTotal: 0,
      tiebreak: ranks[i]!,
    }))
  const pick = (ranks: number[]) => [
    ...decideUnchoked({
      peers: peers(ranks),
      slots: 2,
      seeding: false,
      optimistic: undefined,
      rotate: false,
      random: 0,
    }).unchoked,
  ]
  // Two nodes that drew different ranks choose different regular peers (the optimistic one is drawn from the rest).
  assert.deepEqual(pick([0.1, 0.2, 0.8, 0.9]).slice(0, 2), ['a', 'b'])
  assert.deepEqual(pick([0.9, 0.8, 0.2, 0.1]).slice(0, 2), ['d', 'c'])
})

test('zero slots serves nobody', () => {
  const d = decideUnchoked({
    peers: [{ id: 'a', interested: true, rateFromPeer: 1, sentTotal: 1, tiebreak: 0 }],
    slots: 0,
    seeding: true,
    optimistic: undefined,
    rotate: true,
    random: 0,
  })
  assert.equal(d.unchoked.size, 0)
})
