// A constant-bitrate MP3 that is still arriving: the song resolves once the audio at the start position is
// decoded (from a frame boundary a few frames early) while the beginning has not arrived; its ready range
// holds the samples a whole-file decode gives at the same positions — with a LAME Info frame (gapless
// trimming), without one, behind an ID3v2 tag, at MPEG-2 rates — and it is whole once every byte is in.
// VBR (a Xing tag) does not stream.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeMp3 } from '../../src/library/demo/encode.ts'
import { decodeAudio } from '../../src/playback/decode.ts'
import { skipId3v2, withLameInfoFrame } from '../../src/playback/mp3-info.ts'
import { prerollFrames } from '../../src/playback/stream-mp3.ts'
import { streamSong } from '../../src/playback/stream-song.ts'
import { gatedSource, noise } from './stream-helpers.ts'

const OUT = 48_000

function worstDifference(
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

/** Ready samples within this of the whole-file decode: float rounding in the decoder and resampler, far below one 16-bit step. */
const SAME = 1e-5

async function streamsLikeTheWholeFile(mp3: Uint8Array, rate: number, startAt: number, kbps: number) {
  const whole = await decodeAudio(mp3, { outputSampleRate: OUT })
  // Everything more than 1.5 s before the start position waits: only the part from there on can arrive.
  const holdBefore = skipId3v2(mp3) + Math.floor(((startAt - 1.5) * kbps * 1000) / 8)
  const { source, release } = gatedSource(mp3, holdBefore)
  let done: Error | undefined | 'pending' = 'pending'
  const song = await streamSong(source, {
    startAt,
    outputSampleRate: OUT,
    onDone: (err) => {
      done = err
    },
  })
  assert.ok(song, 'a CBR MP3 streams')
  assert.equal(song.sourceSampleRate, rate)
  assert.equal(song.frames, whole.frames, 'the same length as the whole-file decode')
  assert.equal(song.channels.length, whole.channels.length)
  const ready = song.ready ?? assert.fail('still arriving')
  assert.ok(ready.from > 0, 'the beginning has not arrived')
  assert.ok(
    ready.from <= (startAt - 0.25) * OUT + 64 && ready.to >= startAt * OUT,
    `ready ${JSON.stringify(ready)} around ${startAt * OUT}`,
  )
  const partial = worstDifference(song.channels, whole.channels, ready.from, ready.to)
  assert.ok(
    partial.worst < SAME,
    `ready samples equal the whole-file decode (worst ${partial.worst} at ${partial.at})`,
  )
  assert.equal(done, 'pending')
  release()
  for (let i = 0; i < 2000 && done === 'pending'; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.equal(done, undefined, 'finished without error')
  assert.equal(song.ready, undefined, 'whole')
  const all = worstDifference(song.channels, whole.channels, 0, whole.frames)
  assert.ok(all.worst < SAME, `every sample equals the whole-file decode (worst ${all.worst} at ${all.at})`)
}

describe('streaming a constant-bitrate MP3', () => {
  const tags = { title: 't', artist: 'a', album: 'b' }

  it('with a LAME Info frame (gapless), behind an ID3v2 tag: 44.1 kHz stereo, 128 kbps', async () => {
    const pcm = noise(44_100, 8, { tones: true })
    const plain = encodeMp3(pcm, tags, { kbps: 128 })
    const mp3 = withLameInfoFrame(plain, { encoderDelay: 576, sourceSamples: pcm.left.length })
    await streamsLikeTheWholeFile(mp3, 44_100, 5.3, 128)
  })

  it('without a tag (nothing trimmed): 48 kHz stereo, 192 kbps', async () => {
    const pcm = noise(48_000, 8, { tones: true })
    await streamsLikeTheWholeFile(encodeMp3(pcm, tags, { kbps: 192 }), 48_000, 4.7, 192)
  })

  it('MPEG-2, 22.05 kHz mono at 32 kbps (576-sample frames, a deep bit reservoir)', async () => {
    const pcm = noise(22_050, 10, { tones: true })
    const plain = encodeMp3(pcm, tags, { kbps: 32, mono: true })
    const mp3 = withLameInfoFrame(plain, { encoderDelay: 576, sourceSamples: pcm.left.length })
    assert.ok(prerollFrames(104) >= 6, 'small frames: several frames of preroll')
    await streamsLikeTheWholeFile(mp3, 22_050, 6.1, 32)
  })

  it('a VBR file (Xing tag) does not stream: it is decoded once complete', async () => {
    const pcm = noise(44_100, 2, { tones: true })
    const mp3 = withLameInfoFrame(encodeMp3(pcm, tags, { kbps: 128 }), {
      encoderDelay: 576,
      sourceSamples: pcm.left.length,
    })
    const at = Buffer.from(mp3).indexOf('Info')
    assert.ok(at > 0)
    mp3.set(Buffer.from('Xing'), at)
    const { source } = gatedSource(mp3, 0)
    assert.equal(await streamSong(source, { startAt: 1, outputSampleRate: OUT }), undefined)
  })
})
