// A WAV that is still arriving: the song resolves once the audio at the start position is decoded (while
// the beginning has not arrived), its ready range holds exactly the samples a whole-file decode gives, it
// is whole once every byte is in, and a non-WAV does not stream. The renderer plays only what is ready.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodeMp3, encodeWav } from '../../src/library/demo/encode.ts'
import { type DecodedSong, decodeAudio } from '../../src/playback/decode.ts'
import { BlockRenderer } from '../../src/playback/renderer.ts'
import { streamSong } from '../../src/playback/stream-song.ts'
import type { QueueEntry, Timeline } from '../../src/playback/timeline.ts'
import { gatedSource, hookedSource, noise } from './stream-helpers.ts'

const SRC_RATE = 44_100
const SECONDS = 6

test('a streamed WAV plays from its position before its beginning arrives, and is exact once whole', async () => {
  const wav = encodeWav(noise(SRC_RATE, SECONDS), { title: 't', artist: 'a', album: 'b' })
  const whole = await decodeAudio(wav, { outputSampleRate: 48_000 })
  // Everything before 3 s waits: only the tail can arrive.
  const { source, release } = gatedSource(wav, 44 + 3 * SRC_RATE * 4)
  let done: Error | undefined | 'pending' = 'pending'
  const song = await streamSong(
    source,
    {
      startAt: 3.5,
      aheadSec: 0,
      outputSampleRate: 48_000,
      onDone: (err) => {
        done = err
      },
    },
    ['wav'],
  )
  assert.ok(song, 'a WAV streams')
  assert.equal(song.frames, whole.frames)
  assert.ok(song.ready !== undefined && song.ready.from > 0, 'the beginning has not arrived')
  assert.ok(
    song.ready.from <= 3.25 * 48_000 + 64 && song.ready.to >= 3.5 * 48_000,
    `ready ${JSON.stringify(song.ready)}`,
  )
  let worst = 0
  for (let i = song.ready.from; i < song.ready.to; i++)
    worst = Math.max(worst, Math.abs(song.channels[1][i] - whole.channels[1][i]))
  assert.ok(worst < 1e-6, `ready samples equal the whole-file decode (worst ${worst})`)
  assert.equal(done, 'pending')
  release()
  for (let i = 0; i < 1000 && done === 'pending'; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.equal(done, undefined, 'finished without error')
  assert.equal(song.ready, undefined, 'whole')
  worst = 0
  for (let c = 0; c < 2; c++)
    for (let i = 0; i < whole.frames; i++)
      worst = Math.max(worst, Math.abs(song.channels[c][i] - whole.channels[c][i]))
  assert.ok(worst < 1e-6, `every sample equals the whole-file decode (worst ${worst})`)
})

test('a stream aims where the party is when decoding starts, plus the time one more read takes', async () => {
  const wav = encodeWav(noise(SRC_RATE, SECONDS), { title: 't', artist: 'a', album: 'b' })
  const { source, release } = gatedSource(wav, 44 + 1 * SRC_RATE * 4)
  // Asked for at 1 s; by the time the head is read the party is at 2 s, and a read takes 1.5 s.
  let asked = 0
  const song = await streamSong(
    source,
    {
      startAt: 1,
      position: () => {
        asked++
        return 2
      },
      aheadSec: 1.5,
      outputSampleRate: 48_000,
    },
    ['wav'],
  )
  release()
  assert.ok(song?.ready !== undefined)
  assert.equal(asked, 1)
  const from = (2 + 1.5 - 0.25) * 48_000
  assert.ok(Math.abs(song.ready.from - from) <= 64, `ready from ${song.ready.from}, not ${from}`)
  // The party in another song (position undefined): the song is asked for from `startAt`.
  const again = await streamSong(
    gatedSource(wav, 0).source,
    { startAt: 1, position: () => undefined, aheadSec: 0, outputSampleRate: 48_000 },
    ['wav'],
  )
  assert.ok(again?.ready !== undefined)
  assert.ok(Math.abs(again.ready.from - 0.75 * 48_000) <= 64, `ready from ${again.ready.from}`)
})

test('by default a stream aims past the position by as long as its head took, when that was slow', async () => {
  const wav = encodeWav(noise(SRC_RATE, SECONDS), { title: 't', artist: 'a', album: 'b' })
  const slowHead = hookedSource(wav, (start) =>
    start === 0 ? new Promise((resolve) => setTimeout(resolve, 800)) : undefined,
  )
  const song = await streamSong(slowHead, { startAt: 2, outputSampleRate: 48_000 }, ['wav'])
  const from = song?.ready?.from ?? assert.fail('streams')
  // The head took ~0.8 s (more on a busy machine): the stream starts ~0.8 s past 2 − 0.25 s.
  assert.ok(from >= (2 + 0.8 - 0.25) * 48_000 - 64 && from < (2 + 2 - 0.25) * 48_000, `ready from ${from}`)
})

test('a file that is not a WAV does not stream (it is decoded once complete)', async () => {
  const mp3 = encodeMp3(noise(22_050, 1), { title: 't', artist: 'a', album: 'b' }, { kbps: 32, mono: true })
  const { source } = gatedSource(mp3, 0)
  assert.equal(await streamSong(source, { startAt: 0, outputSampleRate: 48_000 }, ['wav']), undefined)
})

test('the renderer plays only frames that have arrived, and says it is loading elsewhere', () => {
  const RATE = 48_000
  const frames = RATE * 10
  const song: DecodedSong = {
    sampleRate: RATE,
    channels: [new Float32Array(frames).fill(0.5)],
    frames,
    sourceSampleRate: RATE,
    ready: { from: 2 * RATE, to: 4 * RATE },
  }
  const queue: QueueEntry[] = [{ entryId: 'e', cid: 'c', duration: { frames, sampleRate: RATE } }]
  const timeline: Timeline = {
    entryId: 'e',
    cid: 'c',
    anchorPartyTime: 0,
    anchorPosition: 0,
    paused: false,
    rate: 1,
  }
  const at = (seconds: number) =>
    new BlockRenderer().render({
      blockStartLocal: seconds * 1000,
      frames: 960,
      timeline,
      queue,
      song: () => song,
      toParty: (l) => l,
    })
  const before = at(1)
  assert.equal(before.playhead.playing, false)
  assert.equal(before.playhead.idle, 'loading')
  assert.ok(
    before.left.every((v) => v === 0),
    'silence where nothing has arrived',
  )
  const inside = at(3)
  assert.equal(inside.playhead.playing, true)
  assert.ok(inside.left.every((v) => v === 0.5))
  assert.equal(at(5).playhead.idle, 'loading', 'past what has arrived')
})
