/**
 * Piece-picker benchmark: the cost of one pick as a song's piece count grows
 * (64 KiB pieces: 256 = 16 MiB, 16,384 = 1 GiB, 65,536 = 4 GiB, the largest
 * song Tutti shares). A download picks again after nearly every piece that
 * arrives, so a pick that grows with the piece count is paid that many times.
 *
 * Two states, each halfway through the song:
 * - `pair`: one peer that has everything, one request slot free (the uncapped
 *   pair of bench:swarm);
 * - `swarm`: nine peers with ~70 % of the pieces each, 48 requests in flight,
 *   one slot free (a leecher of bench:swarm N = 9).
 *
 * Prints the median (min–max) of 7 batches in µs per pick, and the picks of a
 * whole download estimated as that (halfway) cost times the piece count, and
 * writes bench/results/picker.json.
 *
 *   npm run bench:picker
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { createBitfield, setPiece } from '../src/swarm/bitfield.ts'
import { type PeerView, type PickInput, pickRequests } from '../src/swarm/picker.ts'

const PIECE = 64 * 1024
const SIZES = [256, 1024, 16_384, 65_536]
const BATCHES = 7

/** A seeded xorshift, so every run measures the same states. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 2 ** 32
  }
}

function state(kind: 'pair' | 'swarm', pieces: number): PickInput {
  const rnd = random(pieces * 7 + (kind === 'pair' ? 1 : 2))
  const have = createBitfield(pieces)
  for (let i = 0; i < pieces; i++) if (rnd() < 0.5) setPiece(have, i)
  const peerCount = kind === 'pair' ? 1 : 9
  const peers: PeerView[] = []
  const availability = new Int32Array(pieces)
  for (let p = 0; p < peerCount; p++) {
    const has = createBitfield(pieces)
    for (let i = 0; i < pieces; i++) {
      if (kind === 'pair' || rnd() < 0.7) {
        setPiece(has, i)
        availability[i]!++
      }
    }
    peers.push({
      id: `peer${p}`,
      has,
      choked: false,
      rttMs: 5,
      throughputBps: 4 * 1024 * 1024,
      load: 1,
      inFlight: 0,
      maxInFlight: 8,
    })
  }
  // Requests in flight, spread over the peers; the first peer has one slot free.
  const requested = new Map<number, Set<string>>()
  const inFlight = kind === 'pair' ? 47 : 48
  for (let n = 0, i = 0; n < inFlight && i < pieces; i++) {
    const piece = Math.floor(rnd() * pieces)
    if (requested.has(piece) || (have[piece >> 3]! & (0x80 >> (piece & 7))) !== 0) continue
    const peer = peers[n % peerCount]!
    requested.set(piece, new Set([peer.id]))
    peer.inFlight++
    n++
  }
  for (const peer of peers) peer.maxInFlight = peer.inFlight + (peer === peers[0] ? 1 : 0)
  return {
    pieceCount: pieces,
    pieceSize: PIECE,
    have,
    requested,
    availability,
    critical: [],
    peers,
    budget: 500,
    salt: 0x9e3779b9,
  }
}

function measure(input: PickInput): { median: number; min: number; max: number } {
  // Enough picks per batch for ~20 ms at the slowest size seen so far.
  const picks = Math.max(20, Math.round(2_000_000 / input.pieceCount))
  for (let i = 0; i < picks; i++) pickRequests(input) // warm-up
  const perPick: number[] = []
  for (let b = 0; b < BATCHES; b++) {
    const t0 = performance.now()
    for (let i = 0; i < picks; i++) {
      if (pickRequests(input).length !== 1) throw new Error('expected exactly one request')
    }
    perPick.push(((performance.now() - t0) * 1000) / picks)
  }
  perPick.sort((a, b) => a - b)
  return { median: perPick[BATCHES >> 1]!, min: perPick[0]!, max: perPick[BATCHES - 1]! }
}

const results: Record<string, unknown> = {}
console.log('piece picker: µs per pick, median (min–max) of 7 batches')
for (const kind of ['pair', 'swarm'] as const) {
  for (const pieces of SIZES) {
    const s = measure(state(kind, pieces))
    const song =
      pieces * PIECE >= 1024 ** 3
        ? `${(pieces * PIECE) / 1024 ** 3} GiB`
        : `${(pieces * PIECE) / 1024 ** 2} MiB`
    console.log(
      `${kind.padEnd(5)} ${String(pieces).padStart(6)} pieces (${song.padStart(7)}): ${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)}) µs; ` +
        `a whole download's picks ≈ ${((s.median * pieces) / 1e6).toFixed(2)} s`,
    )
    results[`${kind}-${pieces}`] = {
      pieces,
      usPerPickMedian: s.median,
      usPerPickMin: s.min,
      usPerPickMax: s.max,
    }
  }
}
const out = resolve(import.meta.dirname, 'results')
await mkdir(out, { recursive: true })
await writeFile(resolve(out, 'picker.json'), JSON.stringify(results, null, 2))
