// Clock estimator: offset and drift from synthetic NTP exchanges with asymmetric delay, jitter, loss and drift up to ±500 ppm.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ClockEstimator, type ClockSample, lowerEnvelope } from '../../src/clock/estimator.ts'
import { mulberry32 } from '../../src/shared/random.ts'

interface Network {
  seed: number
  /** reference = offset + (1 + drift) × local */
  offsetMs: number
  driftPpm: number
  baseDelayMs: number
  /** Extra one-way delay on the request direction only. */
  asymmetryMs: number
  /** Mean of exponential queueing delay added to each direction. */
  jitterMs: number
  loss: number
  intervalMs: number
  durationMs: number
}

function reference(net: Network, local: number): number {
  return net.offsetMs + local * (1 + net.driftPpm / 1e6)
}

function simulate(net: Network, estimator: ClockEstimator): number {
  const random = mulberry32(net.seed) // seeded: every run sees the same network
  const exp = (mean: number) => (mean === 0 ? 0 : -mean * Math.log(1 - random()))
  const start = 1_700_000_000_000 // realistic magnitude: precision must survive epoch-sized numbers
  let last = start
  for (let t = start; t < start + net.durationMs; t += net.intervalMs) {
    if (random() < net.loss) continue
    const t0 = t
    const forward = net.baseDelayMs + net.asymmetryMs + exp(net.jitterMs)
    const t1 = reference(net, t0 + forward)
    const t2 = t1 + 0.05
    const backward = net.baseDelayMs + exp(net.jitterMs)
    const t3 = t0 + forward + 0.05 / (1 + net.driftPpm / 1e6) + backward
    estimator.addSample({ t0, t1, t2, t3 })
    last = t3
  }
  return last
}

test('a perfect symmetric link gives the exact offset and drift (+500 ppm)', () => {
  const net: Network = {
    seed: 1,
    offsetMs: 12_345.678,
    driftPpm: 500,
    baseDelayMs: 3,
    asymmetryMs: 0,
    jitterMs: 0,
    loss: 0,
    intervalMs: 2000,
    durationMs: 120_000,
  }
  const est = new ClockEstimator()
  const end = simulate(net, est)
  const e = est.estimate(end)
  assert.ok(e)
  const trueOffset = reference(net, end) - end
  assert.ok(Math.abs(e.offsetMs - trueOffset) < 0.01, `offset error ${e.offsetMs - trueOffset} ms`)
  assert.ok(Math.abs(e.driftPpm - 500) < 0.5, `drift ${e.driftPpm} ppm`)
})

for (const driftPpm of [-500, -37, 0, 220, 500]) {
  test(`asymmetric delay, jitter and 20% loss at ${driftPpm} ppm: error within half the asymmetry plus 1 ms`, () => {
    const net: Network = {
      seed: 1000 + driftPpm,
      offsetMs: -98_765.4321,
      driftPpm,
      baseDelayMs: 10,
      asymmetryMs: 4,
      jitterMs: 5,
      loss: 0.2,
      intervalMs: 2000,
      durationMs: 300_000,
    }
    const est = new ClockEstimator()
    const end = simulate(net, est)
    const e = est.estimate(end)
    assert.ok(e, `seed ${net.seed}`)
    const error = e.offsetMs - (reference(net, end) - end)
    // Asymmetry is invisible to any two-way exchange: it biases θ by exactly
    // half of it (+2 ms here). The test bounds the total by that half plus
    // what jitter may leave after filtering.
    assert.ok(Math.abs(error) <= net.asymmetryMs / 2 + 1, `seed ${net.seed}: offset error ${error} ms`)
    assert.ok(Math.abs(e.driftPpm - driftPpm) < 5, `seed ${net.seed}: drift ${e.driftPpm} vs ${driftPpm} ppm`)
    assert.ok(
      Math.abs(error) <= e.uncertaintyMs,
      `seed ${net.seed}: |${error}| > uncertainty ${e.uncertaintyMs}`,
    )
    // Extrapolating 10 s past the last sample stays accurate because drift is modelled.
    const later = end + 10_000
    const laterError = est.toReference(later) - reference(net, later)
    assert.ok(
      Math.abs(laterError) <= net.asymmetryMs / 2 + 1.1,
      `seed ${net.seed}: 10 s later ${laterError} ms`,
    )
  })
}

test('symmetric jitter without asymmetry converges to well under a millisecond', () => {
  const net: Network = {
    seed: 7,
    offsetMs: 5,
    driftPpm: -300,
    baseDelayMs: 1,
    asymmetryMs: 0,
    jitterMs: 2,
    loss: 0.1,
    intervalMs: 1000,
    durationMs: 180_000,
  }
  const est = new ClockEstimator()
  const end = simulate(net, est)
  const error = est.toReference(end) - reference(net, end)
  assert.ok(Math.abs(error) < 0.3, `seed ${net.seed}: error ${error} ms`)
})

test('toLocal is the inverse of toReference', () => {
  const est = new ClockEstimator({ minDriftSpanMs: 0 })
  const samples: ClockSample[] = [
    { t0: 1000, t1: 51_000.5, t2: 51_000.6, t3: 1001 },
    { t0: 20_000, t1: 70_010.0, t2: 70_010.1, t3: 20_001 },
    { t0: 40_000, t1: 90_020.0, t2: 90_020.1, t3: 40_001 },
  ]
  for (const s of samples) est.addSample(s)
  const e = est.estimate()
  assert.ok(e && e.driftPpm > 0)
  for (const local of [0, 12_345.6, 1e12]) {
    assert.ok(Math.abs(est.toLocal(est.toReference(local)) - local) < 1e-3)
  }
})

test('before any sample there is no estimate and mapping is the identity', () => {
  const est = new ClockEstimator()
  assert.equal(est.estimate(), undefined)
  assert.equal(est.toReference(42), 42)
  assert.equal(est.toLocal(42), 42)
})

test('one sample gives θ and no drift; impossible samples are refused', () => {
  const est = new ClockEstimator()
  assert.equal(est.addSample({ t0: 10, t1: 5, t2: 5, t3: 9 }), false, 'reply before request')
  assert.equal(est.addSample({ t0: 10, t1: 5, t2: 4, t3: 12 }), false, 'reference sent before it received')
  assert.equal(est.addSample({ t0: 10, t1: 5, t2: 5, t3: Number.NaN }), false)
  assert.equal(est.addSample({ t0: 100, t1: 1100, t2: 1101, t3: 103 }), true)
  const e = est.estimate()
  assert.ok(e)
  assert.equal(e.offsetMs, 999) // ½[(1100−100)+(1101−103)]
  assert.equal(e.driftPpm, 0)
  assert.equal(e.uncertaintyMs, 1) // δ = 3 − 1 = 2 → ±1 ms
})

test('a delayed sample in the same bucket does not displace the quicker one', () => {
  const est = new ClockEstimator()
  est.addSample({ t0: 100, t1: 1100, t2: 1100, t3: 102 }) // δ 2, θ 999
  est.addSample({ t0: 200, t1: 1230, t2: 1230, t3: 242 }) // δ 42, θ 1009: queued on the way
  assert.equal(est.estimate()?.offsetMs, 999)
})

/**
 * Sample as a party member does — an exchange, then 50 ms for the first 10 s
 * and 250 ms after — for `durationMs`, with one-way delays the caller draws
 * (given the ms since the start); `lost` drops an exchange. Returns the
 * local time it stopped at.
 */
function sampleAsAMember(
  est: ClockEstimator,
  path: {
    durationMs: number
    reference: (local: number) => number
    forward: (elapsedMs: number) => number
    backward: (elapsedMs: number) => number
    lost?: () => boolean
    /** Called after each exchange with the local time it ended. */
    after?: (t3: number) => void
  },
): number {
  const start = 1_000_000
  let t = start
  while (t - start < path.durationMs) {
    const forward = path.forward(t - start)
    const backward = path.backward(t - start)
    const t1 = path.reference(t + forward)
    const t3 = t + forward + 0.05 + backward
    if (path.lost?.() !== true) est.addSample({ t0: t, t1, t2: t1 + 0.05, t3 })
    path.after?.(t3)
    t = t3 + (t - start < 10_000 ? 50 : 250)
  }
  return t
}

/**
 * A member's first seconds over a jittery path (40 ± 10 ms each way, uniform,
 * as netem's `delay 40ms 10ms`), sampled as a member does (an exchange, then
 * 50 ms): both directions quick in one exchange is rare, so the level comes
 * from each direction's least delay on its own. With the fit's level instead,
 * the median over these seeds was 0.48 ms and the worst 1.25 ms.
 */
test('uniform jitter of ±10 ms each way: after 5 s, within 1 ms in every seed and 0.3 ms in half', () => {
  const errors: number[] = []
  for (let seed = 1; seed <= 20; seed++) {
    const random = mulberry32(seed)
    const est = new ClockEstimator({ bucketMs: 1_000, minDriftSpanMs: 5_000 })
    const offset = 5_000
    const uniform = () => 30 + 20 * random()
    const t = sampleAsAMember(est, {
      durationMs: 5_000,
      reference: (local) => offset + local,
      forward: uniform,
      backward: uniform,
      lost: () => random() < 0.01,
    })
    errors.push(Math.abs(est.toReference(t) - (offset + t)))
  }
  errors.sort((a, b) => a - b)
  const all = errors.map((e) => e.toFixed(2)).join(' ')
  assert.ok(errors[19] < 1, `worst ${errors[19].toFixed(2)} ms: ${all}`)
  assert.ok(
    (errors[9] + errors[10]) / 2 < 0.3,
    `median ${((errors[9] + errors[10]) / 2).toFixed(2)} ms: ${all}`,
  )
})

test('one direction queued for a while (a download): the estimate recovers once it is quiet again', () => {
  // Backward (host → member) delays are the max of four draws for the first 10 s, as behind a bulk transfer.
  const errors: number[] = []
  for (let seed = 1; seed <= 20; seed++) {
    const random = mulberry32(100 + seed)
    const est = new ClockEstimator({ bucketMs: 1_000, minDriftSpanMs: 5_000 })
    const draw = () => 30 + 20 * random()
    const t = sampleAsAMember(est, {
      durationMs: 30_000,
      reference: (local) => local,
      forward: draw,
      backward: (elapsed) => (elapsed < 10_000 ? Math.max(draw(), draw(), draw(), draw()) : draw()),
    })
    errors.push(Math.abs(est.toReference(t) - t))
  }
  errors.sort((a, b) => a - b)
  assert.ok(errors[17] < 2, `90th percentile ${errors[17].toFixed(2)} ms 20 s after the queue drained`)
})

/**
 * Loopback with a stalled start (CI, stop 10): for the first 30 s every reply
 * waits ~90 ms (a busy event loop, a queue behind a download); then the path
 * is quick again. The envelopes over every bucket bent at the change and,
 * extrapolated, put the offset 40 ms off for the next 30 s — a speaker page
 * played 46 ms out of step while calling itself settled. Queued buckets are
 * now left out of the envelopes, and the last exchanges bound the offset.
 */
test('a stalled first half-minute (one direction +90 ms) is forgotten within 5 s of quick exchanges', () => {
  for (const lifted of ['forward', 'backward'] as const) {
    for (let seed = 1; seed <= 5; seed++) {
      const random = mulberry32(900 + seed)
      const est = new ClockEstimator({ bucketMs: 1_000 })
      const quick = () => 0.15 + 0.5 * random()
      const stalled = (elapsed: number) => (elapsed < 30_000 ? 90 + 5 * random() : quick())
      let worst = 0
      sampleAsAMember(est, {
        durationMs: 90_000,
        reference: (local) => local + 5_000,
        forward: lifted === 'forward' ? stalled : quick,
        backward: lifted === 'backward' ? stalled : quick,
        after: (t3) => {
          if (t3 - 1_000_000 > 35_000) worst = Math.max(worst, Math.abs(est.toReference(t3) - t3 - 5_000))
        },
      })
      assert.ok(worst < 1, `${lifted} stalled, seed ${seed}: ${worst.toFixed(2)} ms off after the stall`)
    }
  }
})

test('lowerEnvelope: the line under points lifted by queueing is the line they were lifted from', () => {
  const random = mulberry32(42)
  const points: Array<[number, number]> = []
  for (let x = -60_000; x <= 0; x += 500) {
    const lift = random() < 0.1 ? 0 : -8 * Math.log(1 - random()) // queueing: only ever up; some samples none
    points.push([x, 40 + 250e-6 * x + lift])
  }
  const line = lowerEnvelope(points)
  assert.ok(Math.abs(line.slope - 250e-6) < 2e-6, `slope ${line.slope * 1e6} ppm`)
  assert.ok(Math.abs(line.at0 - 40) < 0.05, `at 0: ${line.at0}`)
  for (const [x, y] of points) assert.ok(y >= line.at0 + line.slope * x - 1e-9, 'no point under it')
  assert.deepEqual(lowerEnvelope([[5, 3]]), { slope: 0, at0: 3 })
  assert.deepEqual(lowerEnvelope([]), { slope: 0, at0: 0 })
})

test('two minutes of uniform ±10 ms jitter at +250 ppm: within 0.3 ms in 18 of 20 seeds (the lower envelopes)', () => {
  // The weighted least-squares fit this replaced missed the drift by 14 ppm in the second seed, and this fails.
  let within = 0
  const errors: string[] = []
  for (let seed = 1; seed <= 20; seed++) {
    const random = mulberry32(500 + seed)
    const est = new ClockEstimator({ bucketMs: 1_000, minDriftSpanMs: 5_000 })
    const reference = (local: number) => 7_000 + local * (1 + 250e-6)
    const uniform = () => 30 + 20 * random()
    const t = sampleAsAMember(est, {
      durationMs: 120_000,
      reference,
      forward: uniform,
      backward: uniform,
      lost: () => random() < 0.01,
    })
    const error = Math.abs(est.toReference(t) - reference(t))
    errors.push(error.toFixed(2))
    if (error < 0.3) within++
    const drift = est.estimate(t)?.driftPpm ?? 0
    assert.ok(Math.abs(drift - 250) < 10, `seed ${500 + seed}: drift ${drift} ppm`)
  }
  assert.ok(within >= 18, `within 0.3 ms in ${within} of 20: ${errors.join(' ')}`)
})
