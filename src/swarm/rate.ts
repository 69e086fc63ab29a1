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
