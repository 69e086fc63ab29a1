/** An exponentially decaying byte-rate meter. Pure: the caller passes the time (ms). */
export class RateMeter {
  readonly #tauMs: number
  #value = 0
  #last: number | undefined
  #total = 0

  constructor(tauMs = 2_000) {
    this.#tauMs = tauMs
  }

  #decay(now: number): void {
    if (this.#last !== undefined && now > this.#last)
      this.#value *= Math.exp(-(now - this.#last) / this.#tauMs)
    if (this.#last === undefined || now > this.#last) this.#last = now
  }

  add(bytes: number, now: number): void {
    this.#decay(now)
    this.#value += bytes
    this.#total += bytes
  }

  /** Bytes per second. */
  rate(now: number): number {
    this.#decay(now)
    return (this.#value * 1000) / this.#tauMs
  }

  get total(): number {
    return this.#total
  }
}

/** Arrivals closer together than this are one delivery-rate sample. */
const MIN_SAMPLE_MS = 1

/**
 * How fast a peer delivers while it has our requests (bytes/s, smoothed).
 * A sample is the bytes that arrived over the time since the request went
 * out or since the previous arrival, whichever is later, so time the peer
 * sat without a request of ours does not count. Arrivals less than
 * `MIN_SAMPLE_MS` apart (one read can hold several pieces) make one sample:
 * a floor of 1 ms per piece instead capped the estimate at 64 MiB/s for
 * 64 KiB pieces, and with it the request pipeline on a fast link at ~9
 * (`pipelineDepth`; bench:swarm's uncapped pair of 64 MiB went from
 * 101–114 to 106–129 MiB/s without the cap). Pure: the caller passes times (ms).
 */
export class DeliveryRate {
  /** Undefined until the first sample. */
  bps: number | undefined
  #lastArrival = Number.NEGATIVE_INFINITY
  #bytes = 0
  #since = 0

  /** `bytes` arrived at `now` for a request sent at `requestedAt`. */
  arrived(bytes: number, requestedAt: number, now: number): void {
    if (this.#bytes === 0) this.#since = Math.max(requestedAt, this.#lastArrival)
    this.#bytes += bytes
    this.#lastArrival = now
    const elapsed = now - this.#since
    if (elapsed < MIN_SAMPLE_MS) return
    const sample = (this.#bytes * 1000) / elapsed
    this.bps = this.bps === undefined ? sample : 0.7 * this.bps + 0.3 * sample
    this.#bytes = 0
  }
}
