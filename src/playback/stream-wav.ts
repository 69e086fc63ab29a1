/**
 * Play a WAV song while it is still arriving: read its header, then its
 * samples from the party's position onwards, then the part before it —
 * decoding (and resampling) each chunk as it lands. Resolves as soon as a
 * little audio past the position is decoded; the song's `ready` range grows
 * behind it, and the renderer plays only frames inside it (silence, and an
 * honest "loading" playhead, elsewhere). This is what lets a member who joins
 * mid-song hear it within a second instead of after the whole download.
 *
 * Only WAV streams this way: compressed formats need their decoder's state
 * from the start of the stream, so they are decoded once complete.
 */
import type { DecodedSong } from './decode.ts'
import { resampleArrived, resampledLength } from './resample.ts'
import { decodeWavFrames, wavLayout } from './wav.ts'

export interface ByteSource {
  size: number
  /** Bytes [start, endInclusive], in order, as they arrive. */
  read(start: number, endInclusive: number, signal?: AbortSignal): AsyncIterable<Uint8Array>
}

export interface StreamWavOptions {
  /** Media second to start from. */
  startAt: number
  outputSampleRate: number
  signal?: AbortSignal
  /** Resolve once this much audio past `startAt` is decoded, s. Default 0.5. */
  leadSec?: number
  /** Begin this long before `startAt`, s (the clock may place the join a little earlier). Default 0.25. */
  backSec?: number
  /** Called once when the whole song is decoded, or with the error that stopped it. */
  onDone?: (error?: Error) => void
}

const HEAD_BYTES = 64 * 1024

async function collect(
  source: ByteSource,
  start: number,
  end: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of source.read(start, end, signal)) parts.push(chunk)
  return Buffer.concat(parts)
}

/** A song that fills in as it arrives, or undefined when this file cannot stream (not WAV, an odd rate). */
export async function streamWavSong(
  source: ByteSource,
  options: StreamWavOptions,
): Promise<DecodedSong | undefined> {
  const head = await collect(source, 0, Math.min(source.size, HEAD_BYTES) - 1, options.signal)
  let layout: ReturnType<typeof wavLayout>
  try {
    layout = wavLayout(head, source.size)
  } catch {
    return undefined
  }
  const srcFrames = Math.floor(layout.dataBytes / layout.blockAlign)
  const outRate = options.outputSampleRate
  const src = Array.from({ length: layout.channels }, () => new Float32Array(srcFrames))
  const outFrames = resampledLength(srcFrames, layout.sampleRate, outRate)
  const out = Array.from({ length: layout.channels }, () => new Float32Array(outFrames))
  if (resampleArrived(src[0], 0, 0, layout.sampleRate, outRate, out[0]) === undefined) return undefined

  const startFrame = Math.min(
    srcFrames,
    Math.max(0, Math.floor((options.startAt - (options.backSec ?? 0.25)) * layout.sampleRate)),
  )
  const startOut = Math.round((startFrame * outRate) / layout.sampleRate)
  const song: DecodedSong = {
    sampleRate: outRate,
    channels: out,
    frames: outFrames,
    sourceSampleRate: layout.sampleRate,
    ready: { from: startOut, to: startOut },
  }

  /** Decode source frames [from, to) as their bytes arrive; `progress(decodedUpTo)` after each chunk. */
  async function fill(from: number, to: number, progress: (upTo: number) => void): Promise<void> {
    if (to <= from) return
    const start = layout.dataStart + from * layout.blockAlign
    const end = layout.dataStart + to * layout.blockAlign - 1
    let carry = new Uint8Array(0)
    let frame = from
    for await (const chunk of source.read(start, end, options.signal)) {
      const bytes = carry.length === 0 ? chunk : Buffer.concat([carry, chunk])
      const whole = bytes.length - (bytes.length % layout.blockAlign)
      frame += decodeWavFrames(bytes.subarray(0, whole), layout, src, frame)
      carry = bytes.slice(whole)
      progress(frame)
    }
  }

  const arrived = (inFrom: number, inTo: number, skipBelow = 0) =>
    src.map((channel, c) =>
      resampleArrived(channel, inFrom, inTo, layout.sampleRate, outRate, out[c], skipBelow),
    )[0]

  let firstAudio: (() => void) | undefined
  const leadFrames = (options.leadSec ?? 0.5) * outRate
  const enough = new Promise<void>((resolve) => {
    firstAudio = resolve
  })
  const run = (async () => {
    // From the position to the end first: that is what plays now.
    await fill(startFrame, srcFrames, (upTo) => {
      const r = arrived(startFrame, upTo, song.ready?.to ?? 0)
      if (r !== undefined && song.ready !== undefined) song.ready = { from: r.from, to: r.to }
      if (song.ready !== undefined && song.ready.to - startOut >= leadFrames) firstAudio?.()
    })
    firstAudio?.()
    // Then the beginning (someone may seek back); the song is whole once it is in.
    await fill(0, startFrame, () => {})
    arrived(0, srcFrames)
    song.ready = undefined
  })()
  run.then(
    () => options.onDone?.(),
    (err: Error) => {
      firstAudio?.()
      options.onDone?.(err)
    },
  )
  await Promise.race([enough, run])
  options.signal?.throwIfAborted()
  return song
}
