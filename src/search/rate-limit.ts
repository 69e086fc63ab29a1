/**
 * Per-peer token buckets (pure: the caller passes the time). Each peer may
 * send `burst` queries at once and `perSecond` sustained; the excess is dropped
 * and counted against the peer, so one node cannot flood the network.
 */
export interface RateLimitInit {
  perSecond: number
  burst: number
  /** Buckets kept at most; the least recently used are forgotten (they refill anyway). */
  maxPeers?: number
}

interface Bucket {
  tokens: number
  updatedAt: number
}

export class TokenBuckets {
  readonly #init: Required<RateLimitInit>
  readonly #buckets = new Map<string, Bucket>()

  constructor(init: RateLimitInit) {
    this.#init = { maxPeers: 10_000, ...init }
  }

  /** Takes one token for `key`; false when its bucket is empty (the message must be dropped). */
  take(key: string, now: number): boolean {
    let bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      bucket = { tokens: this.#init.burst, updatedAt: now }
      if (this.#buckets.size >= this.#init.maxPeers) {
        const oldest = this.#buckets.keys().next().value
        if (oldest !== undefined) this.#buckets.delete(oldest)
      }
    } else {
      this.#buckets.delete(key) // re-insert: Map order doubles as LRU order
      const elapsed = Math.max(0, now - bucket.updatedAt) / 1000
      bucket.tokens = Math.min(this.#init.burst, bucket.tokens + elapsed * this.#init.perSecond)
      bucket.updatedAt = now
    }
    this.#buckets.set(key, bucket)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }
}
