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
 *  1. per local-time bucket keep only the min-δ sample (a "clock filter"),
 *     and the bucket's least forward (t1−t0) and backward (t3−t2) delays;
 *  2. drop buckets whose δ is far above the best δ in the window;
 *  3. the drift: fit θ against local time by weighted least squares, weight
 *     1/(excess delay/2 + floor)², so a sample that waited in a queue barely
 *     counts; the slope is shrunk towards 0 by its own noise (ridge, a prior
 *     of ±200 ppm), since over a short span it is mostly jitter;
 *  4. the level: θ = ½[min(t1−t0) − min(t3−t2)] over the window, drift
 *     removed — each direction's least delay on its own. The two minima need
 *     not come from one exchange, so a quiet moment in each direction is
 *     enough: under jitter both directions are rarely quick at once, and bulk
 *     traffic (a song download) queues one direction only. In simulation
 *     (uniform 40 ± 10 ms each way) this halves the error of the first 30 s
 *     against the fit's level alone.
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
  /** Drift is clamped to ± this (real crystals stay well inside ±500 ppm). Default 1000. */
  maxDriftPpm?: number
  /** Floor of a sample's error scale in the weights, ms: keeps one lucky sample from dominating the fit. Default 0.5. */
  weightFloorMs?: number
  /**
   * Prior spread of the drift, ppm: a short span's slope is mostly jitter, so
   * it is shrunk towards 0 (ridge) by its noise over this; a long span's is not. Default 200.
   */
  driftPriorPpm?: number
}

interface Point {
  x: number // local time (t0+t3)/2
  theta: number
  delay: number
  bucket: number
  /** Least t1 − t0 (forward one-way delay + offset) and t3 − t2 (backward delay − offset) in the bucket. */
  forward: number
  backward: number
}

export class ClockEstimator {
  readonly #bucketMs: number
  readonly #maxBuckets: number
  readonly #delayFactor: number
  readonly #delaySlackMs: number
  readonly #minDriftSpanMs: number
  readonly #maxDrift: number
  readonly #floor: number
  readonly #driftPrior: number
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
    this.#maxDrift = (options.maxDriftPpm ?? 1000) / 1e6
    this.#floor = options.weightFloorMs ?? 0.5
    this.#driftPrior = (options.driftPriorPpm ?? 200) / 1e6
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
      backward: s.t3 - s.t2,
    }
    const last = this.#points.at(-1)
    if (last !== undefined && point.bucket < last.bucket) return false // out of order: the shell never does this
    if (last !== undefined && last.bucket === point.bucket) {
      const forward = Math.min(last.forward, point.forward)
      const backward = Math.min(last.backward, point.backward)
      if (point.delay < last.delay) this.#points[this.#points.length - 1] = point
      const kept = this.#points[this.#points.length - 1]
      kept.forward = forward
      kept.backward = backward
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
    let sy = 0
    for (let i = 0; i < used.length; i++) {
      const w = weights[i]
      sw += w
      sx += w * (used[i].x - pivot)
      sy += w * used[i].theta
    }
    const mx = sx / sw
    const my = sy / sw
    let sxx = 0
    let sxy = 0
    for (let i = 0; i < used.length; i++) {
      const dx = used[i].x - pivot - mx
      sxx += weights[i] * dx * dx
      sxy += weights[i] * dx * (used[i].theta - my)
    }
    const span = (used.at(-1) as Point).x - used[0].x
    let b = 0
    if (used.length >= 3 && span >= this.#minDriftSpanMs && sxx > 0) {
      // Ridge: the fitted slope's noise (the unit variance over sxx) against the prior spread.
      const slope = sxy / sxx
      let rss = 0
      for (let i = 0; i < used.length; i++) {
        const r = used[i].theta - (my + slope * (used[i].x - pivot - mx))
        rss += weights[i] * r * r
      }
      const ridge = rss / Math.max(1, used.length - 2) / (this.#driftPrior * this.#driftPrior)
      b = Math.max(-this.#maxDrift, Math.min(this.#maxDrift, sxy / (sxx + ridge)))
    }
    // θ at pivot from each direction's least one-way delay (drift removed), not from the fit's level: see the file comment.
    let leastForward = Number.POSITIVE_INFINITY
    let leastBackward = Number.POSITIVE_INFINITY
    for (const p of this.#points) {
      leastForward = Math.min(leastForward, p.forward - b * (p.x - pivot))
      leastBackward = Math.min(leastBackward, p.backward + b * (p.x - pivot))
    }
    const a = (leastForward - leastBackward) / 2
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
}
