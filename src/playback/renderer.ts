/**
 * Pure block renderer: which samples belong in the output block that starts
 * at local time L. No clock reads, no I/O — the headless player paces it.
 *
 * Every block is placed from scratch: the timeline says where the media is at
 * party time toParty(L_start) and toParty(L_end), so errors never accumulate.
 * Between those two points the block is read at the rate they imply
 * (≈ 1 + drift between the party clock and the local clock), i.e. the media
 * is resampled continuously by linear interpolation: when the party clock
 * runs 100 ppm fast, a 960-frame block reads 960.096 source frames. That is
 * smoother than dropping or inserting whole samples, and at ≤ 0.05 % rate
 * changes the interpolation's treble loss is negligible.
 *
 * Continuity: the renderer remembers where the last block ended. If the new
 * target differs (the clock estimate moved, a re-anchored timeline), errors up
 * to `hardResyncMs` are slewed away at most `maxSlew` (0.2 %: about 3 cents
 * of pitch, 2 ms per second); larger ones (seek, skip) jump at once.
 */
import { type DecodedSong, frameReady } from './decode.ts'
import { durationSeconds, locate, type QueueEntry, type Timeline } from './timeline.ts'

/** A player's honest account of what it plays: at local time `localTime` it is at `mediaPosition` (s) of `entryId`, advancing `rate` media seconds per local second. */
export interface PlayheadMapping {
  localTime: number
  mediaPosition: number
  rate: number
  entryId: string | undefined
  cid: string | undefined
  playing: boolean
  /** Why nothing plays, when nothing does. */
  idle?: 'no-timeline' | 'paused' | 'ended' | 'loading' | 'before-start'
}

const RATE_SPAN_MS = 10_000
const DEAD_BAND_FRAMES = 0.05

export interface RenderInput {
  blockStartLocal: number
  frames: number
  timeline: Timeline | undefined
  queue: readonly QueueEntry[]
  song(cid: string): DecodedSong | undefined
  toParty(localMs: number): number
}

export interface RenderedBlock {
  /** Stereo output (mono songs are copied to both sides; extra channels ignored). */
  left: Float32Array
  right: Float32Array
  playhead: PlayheadMapping
}

export interface RendererOptions {
  sampleRate?: number
  hardResyncMs?: number
  maxSlew?: number
}

export class BlockRenderer {
  readonly sampleRate: number
  readonly #hardResyncFrames: number
  readonly #maxSlew: number
  /** Where the previous block ended, in frames of `entryId`. */
  #continuation: { entryId: string; frame: number } | undefined

  constructor(options: RendererOptions = {}) {
    this.sampleRate = options.sampleRate ?? 48_000
    this.#hardResyncFrames = ((options.hardResyncMs ?? 20) * this.sampleRate) / 1000
    this.#maxSlew = options.maxSlew ?? 0.002
  }

  render(input: RenderInput): RenderedBlock {
    const { frames, timeline, queue } = input
    const left = new Float32Array(frames)
    const right = new Float32Array(frames)
    const idle = (why: PlayheadMapping['idle'], position = 0, entry?: { entryId: string; cid: string }) => {
      this.#continuation = undefined
      return {
        left,
        right,
        playhead: {
          localTime: input.blockStartLocal,
          mediaPosition: position,
          rate: 0,
          entryId: entry?.entryId,
          cid: entry?.cid,
          playing: false,
          idle: why,
        },
      }
    }
    if (timeline === undefined) return idle('no-timeline')
    const blockEndLocal = input.blockStartLocal + (frames * 1000) / this.sampleRate
    const p0 = input.toParty(input.blockStartLocal)
    const here = locate(timeline, queue, p0)
    if (timeline.paused) return idle('paused', here?.position ?? timeline.anchorPosition, here ?? timeline)
    if (here === undefined) return idle('ended')

    const rate = this.sampleRate
    const targetStart = here.position * rate
    // Party ms per local ms, measured over 10 s: party times are epoch-sized
    // (resolution ~0.2 µs), so a 20 ms difference alone would be 10 ppm noisy.
    const partyRate = (input.toParty(input.blockStartLocal + RATE_SPAN_MS) - p0) / RATE_SPAN_MS
    const advance = (blockEndLocal - input.blockStartLocal) * partyRate * (rate / 1000) * timeline.rate
    let start = targetStart
    let end = targetStart + advance
    const prev = this.#continuation
    if (prev !== undefined && prev.entryId === here.entryId) {
      const error = targetStart - prev.frame
      if (Math.abs(error) <= this.#hardResyncFrames) {
        // Below the dead band the difference is float noise in the epoch-sized times, not a clock change.
        const correction = Math.abs(error) < DEAD_BAND_FRAMES ? 0 : error
        const maxCorrection = this.#maxSlew * frames
        start = prev.frame
        end = prev.frame + advance + Math.max(-maxCorrection, Math.min(maxCorrection, correction))
      }
    }
    start = snap(start)
    end = snap(end)

    // Entries from here on, with frame boundaries relative to the start of `here`.
    let index = here.index
    let entryOffset = 0 // frames from `here` start to the current entry start
    let entryLength = lengthFrames(queue[index], input.song(queue[index].cid), rate)
    let song = input.song(queue[index].cid)
    const step = (end - start) / frames
    for (let k = 0; k < frames; k++) {
      let pos = start + step * k - entryOffset
      while (pos >= entryLength && index + 1 < queue.length) {
        entryOffset += entryLength
        pos -= entryLength
        index += 1
        song = input.song(queue[index].cid)
        entryLength = lengthFrames(queue[index], song, rate)
      }
      // Not here yet (or not yet arrived, for a streamed song): silence, never stale samples.
      if (song === undefined || pos >= entryLength || !frameReady(song, Math.floor(pos))) continue
      const l = song.channels[0]
      const r = song.channels[1] ?? l
      left[k] = sampleAt(l, pos)
      right[k] = sampleAt(r, pos)
    }

    // Where the next block should continue from, in the terms of the entry it will be in.
    let endEntry = here.index
    let endFrame = end
    while (endEntry + 1 < queue.length) {
      const length = lengthFrames(queue[endEntry], input.song(queue[endEntry].cid), rate)
      if (endFrame < length) break
      endFrame -= length
      endEntry += 1
    }
    this.#continuation = { entryId: queue[endEntry].entryId, frame: endFrame }

    const position = start / rate
    const current = input.song(here.cid)
    if (position >= 0 && (current === undefined || !frameReady(current, Math.floor(start)))) {
      // Report honestly: a block whose start has no audio plays nothing at all.
      left.fill(0)
      right.fill(0)
      return idle('loading', position, here)
    }
    return {
      left,
      right,
      playhead: {
        localTime: input.blockStartLocal,
        mediaPosition: position,
        rate: step,
        entryId: here.entryId,
        cid: here.cid,
        playing: position >= 0,
        ...(position < 0 ? { idle: 'before-start' as const } : {}),
      },
    }
  }

  /** Forget continuity (next block is placed exactly, no slewing). */
  reset(): void {
    this.#continuation = undefined
  }
}

function lengthFrames(entry: QueueEntry, song: DecodedSong | undefined, rate: number): number {
  const seconds = durationSeconds(entry)
  if (seconds !== undefined) return seconds * rate
  return song?.frames ?? Number.POSITIVE_INFINITY
}

/** Positions within a millionth of a frame of an integer are that integer (float noise from epoch-sized times). */
function snap(frame: number): number {
  const rounded = Math.round(frame)
  return Math.abs(frame - rounded) < 1e-6 ? rounded : frame
}

/** Linear interpolation between neighbouring frames; outside the song is silence. */
function sampleAt(channel: Float32Array, pos: number): number {
  const i = Math.floor(pos)
  const frac = pos - i
  const a = i >= 0 && i < channel.length ? channel[i] : 0
  if (frac < 1e-9) return a
  const b = i + 1 >= 0 && i + 1 < channel.length ? channel[i + 1] : 0
  return a + (b - a) * frac
}
