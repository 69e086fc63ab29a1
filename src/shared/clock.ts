/**
 * The one time source. Production uses the monotonic clock anchored to the
 * wall clock once at start-up; tests and simulations inject their own.
 * Milliseconds (fractional), on a Unix-epoch-like scale.
 */
export interface Clock {
  now(): number
}

const origin = performance.timeOrigin

/** Monotonic: `performance.timeOrigin + performance.now()`. Never jumps with NTP or a user's clock change. */
export const monotonicClock: Clock = {
  now: () => origin + performance.now(),
}

/** A clock the caller moves by hand; for unit tests and simulations. */
export class ManualClock implements Clock {
  #now: number
  constructor(start = 0) {
    this.#now = start
  }
  now(): number {
    return this.#now
  }
  advance(ms: number): void {
    this.#now += ms
  }
  set(ms: number): void {
    this.#now = ms
  }
}
