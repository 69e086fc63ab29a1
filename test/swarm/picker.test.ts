// The pure piece picker: critical pieces first to the fastest peer, rarest first otherwise, end-game duplicates, and peer ranking by estimated delivery time.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createBitfield, fullBitfield, setPiece } from '../../src/swarm/bitfield.ts'
import {
  estimateDeliveryMs,
  type PeerView,
  type PickInput,
  pickRequests,
  rankPeers,
} from '../../src/swarm/picker.ts'

const PIECE = 64 * 1024

function peer(id: string, has: Uint8Array, over: Partial<PeerView> = {}): PeerView {
  return {
    id,
    has,
    choked: false,
    load: 0,
    inFlight: 0,
    maxInFlight: 4,
    rttMs: 10,
    throughputBps: 1e6,
    ...over,
  }
}

function input(over: Partial<PickInput>): PickInput {
  const pieceCount = over.pieceCount ?? 16
  return {
    pieceCount,
    pieceSize: PIECE,
    have: createBitfield(pieceCount),
    requested: new Map(),
    availability: new Array(pieceCount).fill(1),
    critical: [],
    peers: [],
    budget: 100,
    salt: 7,
    ...over,
  }
}

test('rarest pieces are requested first', () => {
  const availability = new Array(16).fill(3)
  availability[9] = 1
  availability[4] = 2
  const picks = pickRequests(
    input({ availability, peers: [peer('a', fullBitfield(16), { maxInFlight: 2 })] }),
  )
  assert.deepEqual(
    picks.map((p) => p.piece),
    [9, 4],
  )
})

test('critical pieces go first, in reading order, to the peer that delivers soonest', () => {
  const fast = peer('fast', fullBitfield(16), { throughputBps: 10e6 })
  const slow = peer('slow', fullBitfield(16), { throughputBps: 100e3 })
  const picks = pickRequests(input({ critical: [12, 13], peers: [slow, fast] }))
  assert.deepEqual(picks.slice(0, 2), [
    { peer: 'fast', piece: 12 },
    { peer: 'fast', piece: 13 },
  ])
})

test('no request to a choking peer, for a piece it lacks, or past the budget', () => {
  const has = createBitfield(16)
  setPiece(has, 3)
  const picks = pickRequests(
    input({ peers: [peer('choker', fullBitfield(16), { choked: true }), peer('partial', has)], budget: 5 }),
  )
  assert.deepEqual(picks, [{ peer: 'partial', piece: 3 }])
  assert.equal(pickRequests(input({ peers: [peer('a', fullBitfield(16))], budget: 2 })).length, 2)
})

test('end-game: once everything is requested, idle peers duplicate outstanding requests', () => {
  const have = fullBitfield(16)
  const missing = createBitfield(16)
  const haveAllBut = new Uint8Array(have)
  haveAllBut[1] = 0b11111100 // pieces 14 and 15 missing
  void missing
  const requested = new Map([
    [14, new Set(['a'])],
    [15, new Set(['a'])],
  ])
  const picks = pickRequests(
    input({
      have: haveAllBut,
      requested,
      peers: [peer('a', fullBitfield(16), { inFlight: 2 }), peer('b', fullBitfield(16))],
    }),
  )
  assert.deepEqual(
    picks.map((p) => p.peer),
    ['b', 'b'],
  )
  assert.deepEqual(picks.map((p) => p.piece).sort(), [14, 15])
})

test('end-game does not duplicate a request to a peer that would deliver it later', () => {
  const haveAllBut = fullBitfield(16)
  haveAllBut[1] = 0b11111110 // piece 15 missing
  const requested = new Map([[15, new Set(['fast'])]])
  const picks = pickRequests(
    input({
      have: haveAllBut,
      requested,
      peers: [
        peer('fast', fullBitfield(16), { inFlight: 1, throughputBps: 50e6 }),
        peer('slow', fullBitfield(16), { throughputBps: 50e3 }),
      ],
    }),
  )
  assert.deepEqual(picks, [])
})

test('ranking uses rtt, throughput, our queue and the peer’s reported load', () => {
  const nearSlow = peer('near-slow', fullBitfield(1), { rttMs: 1, throughputBps: 200e3 })
  const farFast = peer('far-fast', fullBitfield(1), { rttMs: 80, throughputBps: 20e6 })
  assert.deepEqual(
    rankPeers([nearSlow, farFast], PIECE).map((p) => p.id),
    ['far-fast', 'near-slow'],
  )
  const idle = peer('idle', fullBitfield(1), { throughputBps: undefined, load: 0 })
  const busy = peer('busy', fullBitfield(1), { throughputBps: undefined, load: 9 })
  assert.ok(estimateDeliveryMs(busy, PIECE) > estimateDeliveryMs(idle, PIECE))
  const queued = peer('queued', fullBitfield(1), { inFlight: 3 })
  assert.ok(estimateDeliveryMs(queued, PIECE) > estimateDeliveryMs(peer('q0', fullBitfield(1)), PIECE))
})

test('leechers with different salts start on different pieces', () => {
  const peers = [peer('seed', fullBitfield(64), { maxInFlight: 1 })]
  const a = pickRequests(input({ pieceCount: 64, availability: new Array(64).fill(1), peers, salt: 1 }))
  const b = pickRequests(input({ pieceCount: 64, availability: new Array(64).fill(1), peers, salt: 2 }))
  assert.notEqual(a[0]!.piece, b[0]!.piece)
})

test('at 20,000 pieces each peer still gets the rarest pieces it has, none had, asked or taken twice', () => {
  for (const seed of [1, 2, 3]) {
    let x = seed * 0x9e3779b1
    const rnd = (): number => {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      return (x >>> 0) / 2 ** 32
    }
    const n = 20_000
    const have = createBitfield(n)
    for (let i = 0; i < n; i++) if (rnd() < 0.4) setPiece(have, i)
    const availability = Array.from({ length: n }, () => Math.floor(rnd() * 10))
    const requested = new Map<number, Set<string>>()
    for (let i = 0; i < 50; i++) requested.set(Math.floor(rnd() * n), new Set(['a']))
    const peers = ['a', 'b', 'c'].map((id, i) => {
      const has = createBitfield(n)
      for (let piece = 0; piece < n; piece++) if (rnd() < 0.6) setPiece(has, piece)
      return peer(id, has, { maxInFlight: 3 + i, rttMs: 10 * (i + 1) })
    })
    const pick = (salt: number) =>
      pickRequests(input({ pieceCount: n, have, availability, requested, peers, salt }))
    const picks = pick(7)
    const why = `seed ${seed}`
    assert.equal(picks.length, 3 + 4 + 5, why)
    assert.deepEqual(pick(7), picks, `${why}: the same input gives the same picks`)
    assert.notDeepEqual(pick(8), picks, `${why}: another salt gives other picks`)
    const picked = new Set(picks.map((p) => p.piece))
    assert.equal(picked.size, picks.length, `${why}: no piece twice`)
    const hasIt = (id: string, piece: number) =>
      (peers.find((p) => p.id === id)!.has[piece >> 3]! & (0x80 >> (piece & 7))) !== 0
    const had = (piece: number) => (have[piece >> 3]! & (0x80 >> (piece & 7))) !== 0
    for (const { peer: id, piece } of picks) {
      assert.ok(hasIt(id, piece) && !had(piece) && !requested.has(piece) && availability[piece]! > 0, why)
    }
    for (const id of ['a', 'b', 'c']) {
      const mine = picks.filter((p) => p.peer === id).map((p) => availability[p.piece]!)
      let rarestLeft = Number.POSITIVE_INFINITY
      for (let piece = 0; piece < n; piece++) {
        if (
          hasIt(id, piece) &&
          !had(piece) &&
          !requested.has(piece) &&
          !picked.has(piece) &&
          availability[piece]! > 0
        )
          rarestLeft = Math.min(rarestLeft, availability[piece]!)
      }
      assert.ok(
        Math.max(...mine) <= rarestLeft,
        `${why}: peer ${id} got availability ${mine} with ${rarestLeft} left`,
      )
    }
  }
})
