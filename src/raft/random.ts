/**
 * Seeded PRNG (splitmix32-style). The Raft core takes randomness only from
 * an injected `Random`, so a simulation replays exactly from its seed.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number
}

export function seededRandom(seed: number): Random & { int(n: number): number } {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    z = (z ^ (z >>> 16)) >>> 0
    return z / 4294967296
  }
  return { next, int: (n: number) => Math.floor(next() * n) }
}

/** For production: not reproducible, and that is fine outside simulations. */
export const mathRandom: Random = { next: () => Math.random() }
