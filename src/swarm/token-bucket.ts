/**
 * Rate caps as a token bucket that may go into debt. Pure: the caller passes
 * the time. `reserve(bytes, now)` books the bytes at once and answers how many
 * milliseconds the caller must wait before sending them, so a 64 KiB piece on a
 * bucket smaller than a piece still goes out at the right average rate.
 */
export class TokenBucket {
  readonly rateBytesPerSec: number
  readonly burstBytes: number
  #tokens: number
  #last: number | undefined

  /** `rateBytesPerSec` of `Infinity` (or ≤ 0) means no cap. */
  constructor(rateBytesPerSec: number, burstBytes = Math.max(64 * 1024, rateBytesPerSec / 10)) {
    this.rateBytesPerSec = rateBytesPerSec > 0 ? rateBytesPerSec : Number.POSITIVE_INFINITY
    this.burstBytes = burstBytes
    this.#tokens = burstBytes
    this.#last = undefined
  }

  get unlimited(): boolean {
    return !Number.isFinite(this.rateBytesPerSec)
  }

  #refill(now: number): void {
    if (this.#last !== undefined && now > this.#last) {
      this.#tokens = Math.min(
        this.burstBytes,
        this.#tokens + ((now - this.#last) * this.rateBytesPerSec) / 1000,
      )
    }
    if (this.#last === undefined || now > this.#last) this.#last = now
  }

  /** Book `bytes`; returns the wait in ms before they may be sent (0 when within budget). */
  reserve(bytes: number, now: number): number {
    if (this.unlimited) return 0
    this.#refill(now)
    this.#tokens -= bytes
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.rateBytesPerSec
  }

  /** Tokens available at `now` (negative while in debt). */
  available(now: number): number {
    if (this.unlimited) return Number.POSITIVE_INFINITY
    this.#refill(now)
    return this.#tokens
  }
}
