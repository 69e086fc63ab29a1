/** Shared by the streaming tests: deterministic audio, byte sources whose ranges wait, and the comparison with a whole-file decode. */
import assert from 'node:assert/strict'
import type { Pcm } from '../../src/library/demo/synth.ts'
import { decodeAudio } from '../../src/playback/decode.ts'
import { type ByteSource, streamSong } from '../../src/playback/stream-song.ts'

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

/** Serves `bytes` in 4 KiB chunks, each read after `before(start, end)` has run (to record it, or hold it up). */
export function hookedSource(bytes: Uint8Array, before: (start: number, end: number) => unknown): ByteSource {
  return {
    size: bytes.length,
    async *read(start, end) {
      await before(start, end)
      for (let at = start; at <= end; at += 4096) yield bytes.subarray(at, Math.min(end + 1, at + 4096))
    },
  }
}

/** A promise that settles when `release()` is called. */
function gate(): { released: Promise<void>; release: () => void } {
  const { promise, resolve } = Promise.withResolvers<void>()
  return { released: promise, release: () => resolve() }
}

/** Serves byte ranges in 4 KiB chunks; a range that starts inside (0, holdBefore) waits for `release()` (the head at 0 never does). */
export function gatedSource(bytes: Uint8Array, holdBefore: number) {
  const { released, release } = gate()
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

/**
 * Serves byte ranges in 4 KiB chunks; bytes from `available` on wait for `release()` (a download that has its
 * first part) — except those from `tailFrom` on (a streaming read of the end fetched first).
 */
export function prefixSource(bytes: Uint8Array, available: number, tailFrom = Number.POSITIVE_INFINITY) {
  const { released, release } = gate()
  const source: ByteSource = {
    size: bytes.length,
    async *read(start, end) {
      for (let at = start; at <= end; at += 4096) {
        await new Promise((resolve) => setImmediate(resolve))
        const stop = Math.min(end + 1, at + 4096)
        if (stop > available && at < tailFrom) await released
        yield bytes.subarray(at, stop)
      }
    },
  }
  return { source, release }
}

/** Ready samples within this of the whole-file decode: float rounding in the decoder and resampler, far below one 16-bit step. */
export const SAME = 1e-5

/** The largest difference between two planar signals over frames [from, to), and where it is. */
export function worstDifference(
  a: Float32Array[],
  b: Float32Array[],
  from: number,
  to: number,
): { worst: number; at: number } {
  let worst = 0
  let at = -1
  for (let c = 0; c < a.length; c++)
    for (let i = from; i < to; i++) {
      const d = Math.abs(a[c][i] - b[c][i])
      if (d > worst) {
        worst = d
        at = i
      }
    }
  return { worst, at }
}

/**
 * Streams the song `bytes` from `source` at `startAt`, beside its whole-file decode: the song must come back
 * with the whole decode's length and channels. `finished()` waits (up to 10 s) for the stream's end and
 * returns how it ended: undefined, an error, or 'pending'.
 */
export async function streamBesideWhole(
  bytes: Uint8Array,
  source: ByteSource,
  startAt: number,
  outRate: number,
  /** How to stream (default `streamSong`; a test of one path may pick it). */
  stream: typeof streamSong = streamSong,
) {
  const whole = await decodeAudio(bytes, { outputSampleRate: outRate })
  let done: Error | undefined | 'pending' = 'pending'
  const song = await stream(source, {
    startAt,
    // Where the song starts is the test: no aim past it (that depends on how long the head read took).
    aheadSec: 0,
    outputSampleRate: outRate,
    onDone: (err) => {
      done = err
    },
  })
  assert.ok(song, 'it streams')
  assert.equal(song.frames, whole.frames, 'the same length as the whole-file decode, from the first moment')
  assert.equal(song.channels.length, whole.channels.length)
  const finished = async (): Promise<Error | undefined | 'pending'> => {
    for (let i = 0; i < 2000 && done === 'pending'; i++)
      await new Promise((resolve) => setTimeout(resolve, 5))
    return done
  }
  return { whole, song, outcome: () => done, finished }
}

/**
 * Streams the song `bytes` at `startAt` from a `source` that holds back everything well before the position
 * until `release()`: the song comes back without its beginning, at `rate`, its ready samples equal to the
 * whole-file decode; once released it is whole and equal throughout.
 */
export async function streamsFromThePosition(
  bytes: Uint8Array,
  source: ByteSource,
  release: () => void,
  startAt: number,
  rate: number,
  outRate = 48_000,
): Promise<void> {
  const { whole, song, outcome, finished } = await streamBesideWhole(bytes, source, startAt, outRate)
  assert.equal(song.sourceSampleRate, rate)
  const ready = song.ready ?? assert.fail('still arriving')
  assert.ok(ready.from > 0, 'the beginning has not arrived')
  assert.ok(
    ready.from <= (startAt - 0.25) * outRate + 64 && ready.to >= startAt * outRate,
    `ready ${JSON.stringify(ready)} around ${startAt * outRate}`,
  )
  const partial = worstDifference(song.channels, whole.channels, ready.from, ready.to)
  assert.ok(
    partial.worst < SAME,
    `ready samples equal the whole-file decode (worst ${partial.worst} at ${partial.at})`,
  )
  assert.equal(outcome(), 'pending')
  release()
  assert.equal(await finished(), undefined, 'finished without error')
  assert.equal(song.ready, undefined, 'whole')
  const all = worstDifference(song.channels, whole.channels, 0, whole.frames)
  assert.ok(all.worst < SAME, `every sample equals the whole-file decode (worst ${all.worst} at ${all.at})`)
}
