/**
 * mulberry32: a small, fast, seedable PRNG, uniform in [0, 1). For anything
 * that must be reproducible from a seed (the demo library's bytes, synthetic
 * networks in tests and benchmarks). The Raft simulation has its own
 * (src/raft/random.ts) so that its recorded seeds keep replaying exactly.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
