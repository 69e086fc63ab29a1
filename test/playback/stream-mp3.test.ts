// A constant-bitrate MP3 that is still arriving: the song resolves once the audio at the start position is
// decoded (from a frame boundary a few frames early) while the beginning has not arrived; its ready range
// holds the samples a whole-file decode gives at the same positions — with a LAME Info frame (gapless
// trimming), without one, behind an ID3v2 tag, at MPEG-2 rates — and it is whole once every byte is in.
// VBR (a Xing tag) streams from its start: stream-sequential.test.ts.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeMp3 } from '../../src/library/demo/encode.ts'
import { skipId3v2, withLameInfoFrame } from '../../src/playback/mp3-info.ts'
import { prerollFrames } from '../../src/playback/stream-mp3.ts'
import { gatedSource, noise, streamsFromThePosition } from './stream-helpers.ts'

const OUT = 48_000

async function streamsLikeTheWholeFile(mp3: Uint8Array, rate: number, startAt: number, kbps: number) {
  // Everything more than 1.5 s before the start position waits: only the part from there on can arrive.
  const holdBefore = skipId3v2(mp3) + Math.floor(((startAt - 1.5) * kbps * 1000) / 8)
  const { source, release } = gatedSource(mp3, holdBefore)
  await streamsFromThePosition(mp3, source, release, startAt, rate, OUT)
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
})
