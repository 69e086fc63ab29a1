/** Shared by the streaming tests: deterministic audio and a byte source whose early ranges wait. */
import type { Pcm } from '../../src/library/demo/synth.ts'
import type { ByteSource } from '../../src/playback/stream-song.ts'

/** Deterministic stereo noise (amplitude ±0.4), optionally over tones so that every MP3 frame differs. */
export function noise(rate: number, seconds: number, { tones = false } = {}): Pcm {
  let x = 1
  const next = () => {
    x = (x * 16807) % 2147483647
    return (x / 2147483647 - 0.5) * (tones ? 0.2 : 0.8)
  }
  const tone = (i: number, c: number) =>
    tones ? (c === 0 ? 0.4 * Math.sin(i * 0.031) : 0.3 * Math.sin(i * 0.017 + (i / rate) ** 2)) : 0
  const left = Float32Array.from({ length: rate * seconds }, (_, i) => tone(i, 0) + next())
  const right = Float32Array.from({ length: rate * seconds }, (_, i) => tone(i, 1) + next())
  return { sampleRate: rate, left, right }
}

/** Serves byte ranges in 4 KiB chunks; a range that starts inside (0, holdBefore) waits for `release()` (the head at 0 never does). */
export function gatedSource(bytes: Uint8Array, holdBefore: number) {
  let release!: () => void
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  const source: ByteSource = {
    size: bytes.length,
    async *read(start, end) {
      if (start > 0 && start < holdBefore) await released
      for (let at = start; at <= end; at += 4096) {
        await new Promise((resolve) => setImmediate(resolve))
        yield bytes.subarray(at, Math.min(end + 1, at + 4096))
      }
    },
  }
  return { source, release }
}
