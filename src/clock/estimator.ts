/**
 * Pure party-clock estimator: NTP four-timestamp samples in, offset + drift +
 * uncertainty out. No clock reads, no I/O, no Node APIs (the browser player
 * imports it too).
 *
 * Model: reference(L) = L + θ(L), θ(L) = a + b·(L − pivot), b = drift.
 * Each exchange gives θ = ½[(t1−t0)+(t2−t3)] at local time (t0+t3)/2 and its
 * round-trip delay δ = (t3−t0)−(t2−t1). The true offset lies within ±δ/2 of θ
 * (any delay asymmetry shifts θ by half the asymmetry, never more), and
 * queueing only ever adds delay, so low-δ samples are the trustworthy ones:
 *  1. per local-time bucket keep the min-δ sample (a "clock filter"), and
 *     the bucket's least forward (t1−t0 = forward delay + θ) and backward
 *     (t3−t2 = backward delay − θ) one-way figures;
 *  2. drop buckets whose δ is far above the best (a stretch of them — a
 *     stalled event loop, a download — would bend the envelopes, and their
 *     extrapolation then misses by tens of ms); drift and level from each
 *     direction's lower envelope over the rest
 *     (`lowerEnvelope`: queueing only ever lifts a one-way delay, so the
 *     envelope is the path without queueing; forward rises with θ, backward
 *     falls): b = ½(forward slope − backward slope), θ(pivot) = ½(forward −
 *     backward) there. The two directions need not be quick in the same
 *     exchange — under jitter both rarely are, and bulk traffic (a song
 *     download) queues one direction only. The level is then kept within
 *     the bounds the last few exchanges set (no one-way delay is negative).
 *     Over a span too short for a slope, b = 0 and the level is the middle of
 *     those bounds, from the two least delays;
 *  3. for the uncertainty only: weigh the kept buckets
 *     1/(excess delay/2 + floor)² in a least-squares
 *     residual, whose standard error is reported.
 *
 * Simulated (uniform 40 ± 10 ms each way; test/clock/estimator.test.ts), the
 * median error 5 s in is 0.18 ms where a weighted least-squares level gave 0.48.
 */

export interface ClockSample {
  /** Local (monotonic) time the request was sent. */
  t0: number
  /** Reference time the request arrived. */
  t1: number
  /** Reference time the reply left. */
  t2: number
  /** Local (monotonic) time the reply arrived. */
  t3: number
}

export interface ClockEstimate {
  /** reference − local, at `atLocalMs`. */
  offsetMs: number
  /** How fast the reference runs against the local clock, in parts per million (+ = reference faster). */
  driftPpm: number
  /**
   * Error bound-ish, ms: half the best round-trip delay among the fitted
   * samples (the worst case if that delay were all one-way) plus the fit's
   * standard error at `atLocalMs`. Not a statistical guarantee.
   */
  uncertaintyMs: number
  /** Samples the fit used. */
  samples: number
  /** Local time the estimate refers to. */
  atLocalMs: number
}

export interface ClockEstimatorOptions {
  /** Width of a filter bucket in local ms: one (min-delay) sample survives per bucket. Default 2000. */
  bucketMs?: number
  /** Buckets kept (a sliding window; longer windows average jitter better, ~4 min by default). Default 128. */
  maxBuckets?: number
  /** A bucket whose δ exceeds best δ × this + `delaySlackMs` is ignored. Default 3. */
  delayFactor?: number
  delaySlackMs?: number
  /** Span of local time the samples must cover before drift is fitted (shorter spans give noise, not drift). Default 10 s. */
  minDriftSpanMs?: number
  /**
   * The same on a jittery path (the kept buckets' median round trip more than
   * `jitterMs` above the best): there the first seconds' lower envelopes are
   * too ragged to tell drift from noise. Default: `minDriftSpanMs`.
   */
  jitteryDriftSpanMs?: number
  /** Default 2. */
  jitterMs?: number
  /** Drift is clamped to ± this (real crystals stay well inside ±500 ppm). Default 1000. */
  maxDriftPpm?: number
  /** Floor of a sample's error scale in the weights, ms: keeps one lucky sample from dominating the fit. Default 0.5. */
  weightFloorMs?: number
}

interface Point {
  x: number // local time (t0+t3)/2
  theta: number
  delay: number
  bucket: number
  /** Least t1 − t0 (forward one-way delay + offset) and t3 − t2 (backward delay − offset) in the bucket, and when. */
  forward: number
  forwardX: number
  backward: number
  backwardX: number
}

export class ClockEstimator {
  readonly #bucketMs: number
  readonly #maxBuckets: number
  readonly #delayFactor: number
  readonly #delaySlackMs: number
  readonly #minDriftSpanMs: number
  readonly #jitteryDriftSpanMs: number
  readonly #jitterMs: number
  readonly #maxDrift: number
  readonly #floor: number
  /** One min-delay point per bucket, in bucket order. */
  #points: Point[] = []
  #fit:
    | { a: number; b: number; pivot: number; se: (x: number) => number; bestDelay: number; n: number }
    | undefined

  constructor(options: ClockEstimatorOptions = {}) {
    this.#bucketMs = options.bucketMs ?? 2000
    this.#maxBuckets = options.maxBuckets ?? 128
    this.#delayFactor = options.delayFactor ?? 3
    this.#delaySlackMs = options.delaySlackMs ?? 2
    this.#minDriftSpanMs = options.minDriftSpanMs ?? 10_000
    this.#jitteryDriftSpanMs = options.jitteryDriftSpanMs ?? this.#minDriftSpanMs
    this.#jitterMs = options.jitterMs ?? 2
    this.#maxDrift = (options.maxDriftPpm ?? 1000) / 1e6
    this.#floor = options.weightFloorMs ?? 0.5
  }

  /** Add one exchange. Returns false (and ignores it) when it is impossible: negative delay or non-finite. */
  addSample(s: ClockSample): boolean {
    const delay = s.t3 - s.t0 - (s.t2 - s.t1)
    if (![s.t0, s.t1, s.t2, s.t3].every(Number.isFinite) || s.t3 < s.t0 || s.t2 < s.t1) return false
    // A tiny negative δ can come from drift within one exchange; clamp instead of refusing.
    if (delay < -1) return false
    const point: Point = {
      x: (s.t0 + s.t3) / 2,
      theta: (s.t1 - s.t0 + (s.t2 - s.t3)) / 2,
      delay: Math.max(0, delay),
      bucket: Math.floor(s.t0 / this.#bucketMs),
      forward: s.t1 - s.t0,
      forwardX: (s.t0 + s.t3) / 2,
      backward: s.t3 - s.t2,
      backwardX: (s.t0 + s.t3) / 2,
    }
    const last = this.#points.at(-1)
    if (last !== undefined && point.bucket < last.bucket) return false // out of order: the shell never does this
    if (last !== undefined && last.bucket === point.bucket) {
      const forward = last.forward <= point.forward ? last : point
      const backward = last.backward <= point.backward ? last : point
      if (point.delay < last.delay) this.#points[this.#points.length - 1] = point
      const kept = this.#points[this.#points.length - 1]
      kept.forward = forward.forward
      kept.forwardX = forward.forwardX
      kept.backward = backward.backward
      kept.backwardX = backward.backwardX
    } else {
      this.#points.push(point)
      if (this.#points.length > this.#maxBuckets) this.#points.shift()
    }
    this.#fit = undefined
    return true
  }

  /** Forget everything (e.g. the reference changed). */
  reset(): void {
    this.#points = []
    this.#fit = undefined
  }

  /** Current estimate at `atLocalMs` (default: the latest sample), or undefined before any sample. */
  estimate(atLocalMs?: number): ClockEstimate | undefined {
    const fit = this.#computeFit()
    if (fit === undefined) return undefined
    const last = this.#points.at(-1) as Point
    const at = atLocalMs ?? last.x
    return {
      offsetMs: fit.a + fit.b * (at - fit.pivot),
      driftPpm: fit.b * 1e6,
      uncertaintyMs: fit.bestDelay / 2 + fit.se(at),
      samples: fit.n,
      atLocalMs: at,
    }
  }

  /** Local monotonic time → reference time. Identity before any sample. */
  toReference(localMs: number): number {
    const fit = this.#computeFit()
    if (fit === undefined) return localMs
    return localMs + fit.a + fit.b * (localMs - fit.pivot)
  }

  /** Reference time → local monotonic time (exact inverse of `toReference`). */
  toLocal(referenceMs: number): number {
    const fit = this.#computeFit()
    if (fit === undefined) return referenceMs
    // R = L + a + b(L − p)  ⇒  L = (R − a + b·p) / (1 + b)
    return (referenceMs - fit.a + fit.b * fit.pivot) / (1 + fit.b)
  }

  #computeFit() {
    if (this.#fit !== undefined) return this.#fit
    if (this.#points.length === 0) return undefined
    let bestDelay = Number.POSITIVE_INFINITY
    for (const p of this.#points) bestDelay = Math.min(bestDelay, p.delay)
    const limit = bestDelay * this.#delayFactor + this.#delaySlackMs
    const used = this.#points.filter((p) => p.delay <= limit)
    const pivot = (used.at(-1) as Point).x
    const weights = used.map((p) => {
      const scale = (p.delay - bestDelay) / 2 + this.#floor
      return 1 / (scale * scale)
    })
    let sw = 0
    let sx = 0
    for (let i = 0; i < used.length; i++) {
      const w = weights[i]
      sw += w
      sx += w * (used[i].x - pivot)
    }
    const mx = sx / sw
    let sxx = 0
    for (let i = 0; i < used.length; i++) {
      const dx = used[i].x - pivot - mx
      sxx += weights[i] * dx * dx
    }
    // Drift and level from each direction's lower envelope (see the file comment); b = 0 over a short span.
    const span = (used.at(-1) as Point).x - used[0].x
    let a: number
    let b = 0
    if (used.length >= 3 && span >= this.#driftSpanMs(used, bestDelay)) {
      const forward = lowerEnvelope(used.map((p) => [p.forwardX - pivot, p.forward]))
      const backward = lowerEnvelope(used.map((p) => [p.backwardX - pivot, p.backward]))
      b = Math.max(-this.#maxDrift, Math.min(this.#maxDrift, (forward.slope - backward.slope) / 2))
      a = feasible((forward.at0 - backward.at0) / 2, b, this.#points.slice(-RECENT_BUCKETS), pivot)
    } else {
      a = feasible(0, 0, this.#points, pivot, true)
    }
    // Weighted residual variance → standard error of the fitted line at x.
    let rss = 0
    for (let i = 0; i < used.length; i++) {
      const r = used[i].theta - (a + b * (used[i].x - pivot))
      rss += weights[i] * r * r
    }
    const dof = Math.max(1, used.length - (b === 0 ? 1 : 2))
    const unitVariance = rss / dof
    const n = used.length
    const se = (x: number): number => {
      if (n < 2) return 0
      const dx = x - pivot - mx
      const slopeTerm = b !== 0 && sxx > 0 ? (dx * dx) / sxx : 0
      return Math.sqrt(unitVariance * (1 / sw + slopeTerm))
    }
    this.#fit = { a, b, pivot, se, bestDelay, n }
    return this.#fit
  }

  /** How long the samples must span before drift is fitted: longer on a jittery path. */
  #driftSpanMs(used: Point[], bestDelay: number): number {
    if (this.#jitteryDriftSpanMs === this.#minDriftSpanMs) return this.#minDriftSpanMs
    const delays = used.map((p) => p.delay).sort((x, y) => x - y)
    const median = delays[Math.floor(delays.length / 2)]
    return median - bestDelay > this.#jitterMs ? this.#jitteryDriftSpanMs : this.#minDriftSpanMs
  }
}

/**
 * Buckets whose one-way figures bound the offset at the pivot: recent enough
 * that a drift error of tens of ppm moves those bounds by well under a
 * millisecond.
 */
const RECENT_BUCKETS = 8

/**
 * Every exchange bounds the offset: a one-way delay is never negative, so
 * θ(x) ≤ t1 − t0 and θ(x) ≥ −(t3 − t2). Given drift `b`, intersect those
 * bounds at the pivot and return `a` moved into them — or, with `midpoint`
 * (or when the bounds contradict each other: the reference or the path
 * changed), the middle of them. An envelope bent by a stretch of queued
 * exchanges (a download, a stalled event loop) can extrapolate tens of ms off
 * (test/clock/estimator.test.ts); the last few exchanges cannot be argued with.
 */
function feasible(a: number, b: number, points: Point[], pivot: number, midpoint = false): number {
  let upper = Number.POSITIVE_INFINITY
  let lower = Number.NEGATIVE_INFINITY
  for (const p of points) {
    upper = Math.min(upper, p.forward - b * (p.forwardX - pivot))
    lower = Math.max(lower, -p.backward - b * (p.backwardX - pivot))
  }
  if (midpoint || lower > upper) return (lower + upper) / 2
  return Math.min(upper, Math.max(lower, a))
}

/**
 * The line under every point that lies closest to them overall (least sum of
 * vertical distances — a linear program whose answer is the lower convex
 * hull's edge over the points' mean x): its slope and its value at x = 0.
 * Queueing only ever lifts a one-way delay, so the lower envelope is the
 * delay without queueing, and its slope the clock drift plus any trend in
 * the path's base delay (Moon, Skelly & Towsley, "Estimation and removal of
 * clock skew from network delay measurements", INFOCOM 1999).
 */
export function lowerEnvelope(points: ReadonlyArray<readonly [number, number]>): {
  slope: number
  at0: number
} {
  const sorted = [...points].sort((p, q) => p[0] - q[0] || p[1] - q[1])
  if (sorted.length === 0) return { slope: 0, at0: 0 }
  // Andrew's monotone chain, lower half.
  const hull: Array<readonly [number, number]> = []
  for (const p of sorted) {
    while (hull.length >= 2) {
      const [o, q] = [hull[hull.length - 2], hull[hull.length - 1]]
      const cross = (q[0] - o[0]) * (p[1] - o[1]) - (q[1] - o[1]) * (p[0] - o[0])
      if (cross > 0) break
      hull.pop()
    }
    if (hull.length > 0 && hull[hull.length - 1][0] === p[0]) continue // same x: the lower one is in already
    hull.push(p)
  }
  if (hull.length === 1) return { slope: 0, at0: hull[0][1] }
  let mean = 0
  for (const p of sorted) mean += p[0]
  mean /= sorted.length
  let i = 0
  while (i < hull.length - 2 && hull[i + 1][0] <= mean) i++
  const [p, q] = [hull[i], hull[i + 1]]
  const slope = (q[1] - p[1]) / (q[0] - p[0])
  return { slope, at0: p[1] - slope * p[0] }
}
