// The swarm's rate estimates: pure, driven by hand-set times.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_PIPELINE, MIN_PIPELINE, pipelineDepth, QUEUE_ALLOWANCE_MS } from '../../src/swarm/picker.ts'
import { DeliveryRate, RateMeter } from '../../src/swarm/rate.ts'

const KiB = 1024
const MiB = 1024 * KiB

test('a fast peer is measured at its rate, not capped by the clock: 64 KiB pieces every 0.5 ms are 125 MiB/s', () => {
  const rate = new DeliveryRate()
  // Eight requests out at t = 0; the pieces come back-to-back, two per millisecond.
  for (let i = 1; i <= 64; i++) rate.arrived(64 * KiB, 0, i * 0.5)
  const expected = (128 * KiB * 1000) / 1 // 128 KiB per millisecond
  assert.ok(Math.abs(rate.bps! - expected) / expected < 0.01, `${(rate.bps! / MiB).toFixed(1)} MiB/s`)
  // And the pipeline that rate asks for is deeper than the ~9 a 64 MiB/s cap allowed.
  assert.ok(pipelineDepth({ rttMs: 1, throughputBps: rate.bps, latencyMs: 8 }, 64 * KiB) > 12)
})

test('pieces that arrive in the same instant are measured together, never as an infinite rate', () => {
  const rate = new DeliveryRate()
  rate.arrived(64 * KiB, 0, 10)
  const first = rate.bps!
  assert.equal(first, (64 * KiB * 1000) / 10, '64 KiB in 10 ms')
  rate.arrived(64 * KiB, 0, 10) // same read
  rate.arrived(64 * KiB, 0, 10)
  assert.equal(rate.bps, first, 'no sample until a millisecond has passed')
  rate.arrived(64 * KiB, 0, 11)
  // Three pieces over the 1 ms since the previous arrival: 192 KiB/ms.
  assert.ok(Number.isFinite(rate.bps!))
  const expected = 0.7 * first + 0.3 * 192 * KiB * 1000
  assert.ok(Math.abs(rate.bps! - expected) < 1e-3 * expected)
})

test('time the peer had no request of ours does not count against it', () => {
  const rate = new DeliveryRate()
  rate.arrived(64 * KiB, 0, 20) // 20 ms for the first piece
  const first = rate.bps!
  // Idle for a second, then a request at 1,000 answered at 1,020: the same 20 ms, the same rate.
  rate.arrived(64 * KiB, 1_000, 1_020)
  assert.equal(rate.bps, first)
})

test('the byte meter decays with its time constant', () => {
  const meter = new RateMeter(1_000)
  meter.add(1 * MiB, 0)
  assert.equal(meter.rate(0), 1 * MiB)
  assert.ok(Math.abs(meter.rate(1_000) - MiB / Math.E) < 1)
  assert.equal(meter.total, 1 * MiB)
})

test('at a capped uploader our own queue does not deepen the pipeline: the depth settles, it does not climb', () => {
  // A 2 MiB/s leecher serves five peers in turn; a request waits behind all of ours queued there.
  const piece = 64 * KiB
  const share = (2 * MiB) / 5
  let depth = MIN_PIPELINE
  for (let round = 0; round < 20; round++) {
    const latencyMs = ((depth * piece) / share) * 1000 // ~160 ms per queued piece of ours
    depth = pipelineDepth({ rttMs: 2, throughputBps: share, latencyMs }, piece)
  }
  // Taking the whole latency, each round added four and the depth reached the cap (48, ~7.7 s of queue).
  assert.equal(depth, MIN_PIPELINE)
})

test('a fast peer whose processing takes a few tens of ms still gets the deep pipeline it needs', () => {
  // The uncapped pair in bench:swarm: ~100 MiB/s, RTT 1 ms, a request back in ~30 ms on a busy host.
  const depth = pipelineDepth({ rttMs: 1, throughputBps: 100 * MiB, latencyMs: 30 }, 64 * KiB)
  assert.equal(depth, MAX_PIPELINE)
  // Latency far past the RTT counts only up to the allowance.
  const slow = pipelineDepth({ rttMs: 1, throughputBps: 10 * MiB, latencyMs: 2_000 }, 64 * KiB)
  assert.equal(slow, Math.ceil((10 * MiB * (1 + QUEUE_ALLOWANCE_MS)) / 1000 / (64 * KiB)) + 4)
})

test('a slow first exchange does not deepen the pipeline at a capped uploader', () => {
  // Fresh processes on a busy host: hello to handshake took 300 ms, the peer uploads at 2 MiB/s and
  // our requests wait in its queue. Counting RTT + allowance (350 ms) gave 16 requests there.
  const depth = pipelineDepth({ rttMs: 300, throughputBps: 2 * MiB, latencyMs: 1_000 }, 64 * KiB)
  assert.equal(depth, MIN_PIPELINE)
  // A fast peer far away still gets its bandwidth-delay product: 10 MiB/s over 80 ms.
  const far = pipelineDepth({ rttMs: 80, throughputBps: 10 * MiB, latencyMs: 80 }, 64 * KiB)
  assert.equal(far, Math.ceil((10 * MiB * 80) / 1000 / (64 * KiB)) + 4)
})
