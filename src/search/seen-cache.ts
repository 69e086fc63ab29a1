/**
 * Query ids seen recently, with the neighbour each came from (pure: the
 * caller passes the time). The first copy of a query is answered; later
 * copies arriving over other paths are dropped. The previous hop is what a
 * result travels back through when the asker cannot be dialled directly.
 */
export interface SeenEntry {
  from: string
  /** The asker, so a result passing back through us can take a shortcut when we know it. */
  origin?: string
  expiresAt: number
}

export class SeenCache {
  readonly #ttlMs: number
  readonly #max: number
  readonly #entries = new Map<string, SeenEntry>()

  constructor(ttlMs: number, max = 50_000) {
    this.#ttlMs = ttlMs
    this.#max = max
  }

  /** Records `id`; false when it was already seen (a duplicate). */
  add(id: string, from: string, now: number, origin?: string): boolean {
    this.#expire(now)
    const entry = this.#entries.get(id)
    if (entry !== undefined && entry.expiresAt > now) return false
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
    this.#entries.set(id, { from, origin, expiresAt: now + this.#ttlMs })
    return true
  }

  get(id: string, now: number): SeenEntry | undefined {
    const entry = this.#entries.get(id)
    return entry !== undefined && entry.expiresAt > now ? entry : undefined
  }

  #expire(now: number): void {
    // Entries are inserted in time order with one TTL, so the expired ones are at the front.
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt > now) break
      this.#entries.delete(id)
    }
  }
}
