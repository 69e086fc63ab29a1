// MP3 gapless: with a LAME Info frame (as withLameInfoFrame writes for lamejs output) the decoded song starts on the source's first sample and has exactly its length, so an MP3 plays in step with the same song as WAV; without one it starts late by the encoder and decoder delays.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Mp3Encoder } from '@breezystack/lamejs'
import { decodeAudio } from '../../src/playback/decode.ts'
import { MP3_DECODER_DELAY, readLameGapless, withLameInfoFrame } from '../../src/playback/mp3-info.ts'

const LAME_ENCODER_DELAY = 576

/** Silence with clicks at known frames. */
function clicks(rate: number, seconds: number, at: number[]): Int16Array {
  const pcm = new Int16Array(Math.round(rate * seconds))
  for (const i of at) pcm[i] = 30_000
  return pcm
}

function encode(pcm: Int16Array, rate: number, kbps: number): Uint8Array {
  const encoder = new Mp3Encoder(1, rate, kbps)
  const parts = [encoder.encodeBuffer(pcm), encoder.flush()]
  return new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))))
}

/** Frame of the strongest sample in [from, to). */
function peakFrame(channel: Float32Array, from: number, to: number): number {
  let best = -1
  let at = -1
  for (let i = from; i < Math.min(to, channel.length); i++) {
    if (Math.abs(channel[i]) > best) {
      best = Math.abs(channel[i])
      at = i
    }
  }
  return at
}

/** A minimal ID3v2.3 tag (one TIT2 frame), as in front of most MP3s. */
function id3(title: string): Uint8Array {
  const text = Buffer.from(`\u0000${title}`, 'latin1')
  const frame = Buffer.concat([Buffer.from('TIT2'), Buffer.from([0, 0, 0, text.length, 0, 0]), text])
  const head = Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, frame.length])
  return new Uint8Array(Buffer.concat([head, frame]))
}

describe('MP3 encoder delay and padding', () => {
  const RATE = 48_000
  const source = clicks(RATE, 2, [24_000, 60_000])
  const plain = encode(source, RATE, 128)

  it('without a LAME tag the decoded song starts late by the encoder and decoder delays', async () => {
    assert.equal(readLameGapless(plain), undefined)
    const song = await decodeAudio(plain)
    const delay = peakFrame(song.channels[0], 0, 30_000) - 24_000
    assert.equal(delay, LAME_ENCODER_DELAY + MP3_DECODER_DELAY)
    assert.ok(song.frames > source.length)
  })

  it('with the Info frame the song has exactly the source length and its clicks where they were', async () => {
    const tagged = withLameInfoFrame(plain, {
      encoderDelay: LAME_ENCODER_DELAY,
      sourceSamples: source.length,
    })
    const gapless = readLameGapless(tagged) ?? assert.fail('the tag reads back')
    assert.equal(gapless.encoderDelay, LAME_ENCODER_DELAY)
    const song = await decodeAudio(tagged)
    assert.equal(song.frames, source.length)
    assert.equal(peakFrame(song.channels[0], 0, 30_000), 24_000)
    assert.equal(peakFrame(song.channels[0], 50_000, 70_000), 60_000)
  })

  it('works behind an ID3v2 tag and for MPEG-2 rates (22.05 kHz, resampled to 48 kHz)', async () => {
    const rate = 22_050
    const low = clicks(rate, 2, [11_025])
    const mp3 = encode(low, rate, 64)
    const tagged = withLameInfoFrame(new Uint8Array(Buffer.concat([id3('Song'), mp3])), {
      encoderDelay: LAME_ENCODER_DELAY,
      sourceSamples: low.length,
    })
    assert.equal(readLameGapless(tagged)?.encoderDelay, LAME_ENCODER_DELAY)
    const song = await decodeAudio(tagged)
    assert.equal(song.sourceSampleRate, rate)
    assert.ok(Math.abs(song.frames - low.length * (48_000 / rate)) <= 1, `frames ${song.frames}`)
    // The click at 0.5 s of the source is at 0.5 s of the output (±1 output sample).
    assert.ok(Math.abs(peakFrame(song.channels[0], 0, 30_000) - 24_000) <= 1)
  })

  it('leaves its input alone, a Buffer too (whose slice() is a view), when the Info frame needs a higher bitrate', () => {
    const low = Buffer.from(encode(clicks(22_050, 1, [100]), 22_050, 32)) // 104-byte frames: the tag does not fit
    const before = Buffer.from(low)
    const tagged = withLameInfoFrame(low, { encoderDelay: LAME_ENCODER_DELAY, sourceSamples: 22_050 })
    assert.deepEqual(low, before)
    assert.deepEqual(
      Buffer.from(tagged.subarray(tagged.length - low.length)),
      before,
      'the audio frames follow unchanged',
    )
  })

  it('refuses a stream that is not Layer III', () => {
    assert.throws(() => withLameInfoFrame(new Uint8Array(64), { encoderDelay: 576, sourceSamples: 10 }))
  })
})
