// The swarm's rate estimates: pure, driven by hand-set times.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pipelineDepth } from '../../src/swarm/picker.ts'
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
