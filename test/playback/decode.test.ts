// Decoding songs to 48 kHz planar PCM: hand-parsed WAV (8/16/24/32-bit, float, extensible), MP3 via mpg123, resampling, and refusal of bad input.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Mp3Encoder } from '@breezystack/lamejs'
import { decodeAudio, detectFormat } from '../../src/playback/decode.ts'
import { resampleChannel } from '../../src/playback/resample.ts'
import { oggVorbisBytes } from './vorbis-fixture.ts'

/** A WAV file built by hand so each sample format is exercised. */
function makeWav(options: {
  rate: number
  channels: Float32Array[]
  format: 1 | 3
  bits: number
  extensible?: boolean
}) {
  const { rate, channels, format, bits } = options
  const bytesPerSample = bits / 8
  const frames = channels[0].length
  const blockAlign = bytesPerSample * channels.length
  const fmtSize = options.extensible ? 40 : 16
  const buf = Buffer.alloc(12 + 8 + fmtSize + 8 + frames * blockAlign)
  buf.write('RIFF', 0, 'ascii')
  buf.writeUInt32LE(buf.length - 8, 4)
  buf.write('WAVE', 8, 'ascii')
  buf.write('fmt ', 12, 'ascii')
  buf.writeUInt32LE(fmtSize, 16)
  buf.writeUInt16LE(options.extensible ? 0xfffe : format, 20)
  buf.writeUInt16LE(channels.length, 22)
  buf.writeUInt32LE(rate, 24)
  buf.writeUInt32LE(rate * blockAlign, 28)
  buf.writeUInt16LE(blockAlign, 32)
  buf.writeUInt16LE(bits, 34)
  if (options.extensible) {
    buf.writeUInt16LE(22, 36)
    buf.writeUInt16LE(bits, 38)
    buf.writeUInt32LE(0, 40)
    buf.writeUInt16LE(format, 44) // sub-format GUID starts with the plain format code
  }
  let at = 20 + fmtSize
  buf.write('data', at, 'ascii')
  buf.writeUInt32LE(frames * blockAlign, at + 4)
  at += 8
  for (let f = 0; f < frames; f++) {
    for (const channel of channels) {
      const v = channel[f]
      if (format === 3 && bits === 32) buf.writeFloatLE(v, at)
      else if (format === 3) buf.writeDoubleLE(v, at)
      else if (bits === 8) buf.writeUInt8(Math.round(v * 127) + 128, at)
      else if (bits === 16) buf.writeInt16LE(Math.round(v * 32767), at)
      else if (bits === 24) buf.writeIntLE(Math.round(v * 8388607), at, 3)
      else buf.writeInt32LE(Math.round(v * 2147483647), at)
      at += bytesPerSample
    }
  }
  return new Uint8Array(buf)
}

function sine(frequency: number, rate: number, frames: number, amplitude = 0.5): Float32Array {
  return Float32Array.from(
    { length: frames },
    (_, i) => amplitude * Math.sin((2 * Math.PI * frequency * i) / rate),
  )
}

/** Frequency from upward zero crossings (robust enough for a clean sine). */
function frequencyOf(samples: Float32Array, rate: number): number {
  let first = -1
  let last = -1
  let count = 0
  for (let i = 1; i < samples.length; i++) {
    if (samples[i - 1] < 0 && samples[i] >= 0) {
      if (first < 0) first = i
      else count++
      last = i
    }
  }
  return (count * rate) / (last - first)
}

const formats: Array<{ name: string; format: 1 | 3; bits: number; tolerance: number; extensible?: boolean }> =
  [
    { name: '8-bit PCM', format: 1, bits: 8, tolerance: 1 / 100 },
    { name: '16-bit PCM', format: 1, bits: 16, tolerance: 1 / 30_000 },
    { name: '24-bit PCM', format: 1, bits: 24, tolerance: 1e-6 },
    { name: '32-bit PCM', format: 1, bits: 32, tolerance: 1e-6 },
    { name: '32-bit float', format: 3, bits: 32, tolerance: 1e-7 },
    { name: '64-bit float', format: 3, bits: 64, tolerance: 1e-7 },
    { name: '24-bit PCM, WAVE_FORMAT_EXTENSIBLE', format: 1, bits: 24, tolerance: 1e-6, extensible: true },
  ]

for (const f of formats) {
  test(`WAV ${f.name} decodes sample for sample at 48 kHz`, async () => {
    const left = sine(440, 48_000, 4800)
    const right = sine(1000, 48_000, 4800, -0.25)
    const bytes = makeWav({
      rate: 48_000,
      channels: [left, right],
      format: f.format,
      bits: f.bits,
      extensible: f.extensible,
    })
    assert.equal(detectFormat(bytes), 'wav')
    const song = await decodeAudio(bytes)
    assert.equal(song.sampleRate, 48_000)
    assert.equal(song.frames, 4800)
    assert.equal(song.channels.length, 2)
    for (let i = 0; i < 4800; i++) {
      assert.ok(Math.abs(song.channels[0][i] - left[i]) <= f.tolerance, `left[${i}]`)
      assert.ok(Math.abs(song.channels[1][i] - right[i]) <= f.tolerance, `right[${i}]`)
    }
  })
}

test('a 44.1 kHz WAV is resampled to 48 kHz keeping pitch and duration', async () => {
  const bytes = makeWav({ rate: 44_100, channels: [sine(1000, 44_100, 44_100)], format: 1, bits: 16 })
  const song = await decodeAudio(bytes)
  assert.equal(song.sourceSampleRate, 44_100)
  assert.equal(song.frames, 48_000)
  assert.ok(Math.abs(frequencyOf(song.channels[0], 48_000) - 1000) < 0.5)
  // Away from the edges the resampled sine matches the ideal one closely (windowed-sinc, not linear).
  const ideal = sine(1000, 48_000, 48_000)
  let worst = 0
  for (let i = 1000; i < 47_000; i++) worst = Math.max(worst, Math.abs(song.channels[0][i] - ideal[i]))
  assert.ok(worst < 1e-3, `max deviation ${worst}`)
})

test('downsampling removes content above the new Nyquist instead of aliasing it', () => {
  // 30 kHz at 96 kHz would alias to 18 kHz at 48 kHz with a naive resampler.
  const out = resampleChannel(sine(30_000, 96_000, 96_000), 96_000, 48_000)
  let peak = 0
  for (let i = 1000; i < out.length - 1000; i++) peak = Math.max(peak, Math.abs(out[i]))
  assert.ok(peak < 0.005, `leftover ${peak}`)
})

test('an MP3 decodes to a sine of the right pitch and length', async () => {
  const rate = 44_100
  const pcm = Int16Array.from(sine(440, rate, rate * 2), (v) => Math.round(v * 32767))
  const encoder = new Mp3Encoder(1, rate, 128)
  const parts: Uint8Array[] = [encoder.encodeBuffer(pcm), encoder.flush()]
  const bytes = new Uint8Array(
    Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))),
  )
  assert.equal(detectFormat(bytes), 'mp3')
  const song = await decodeAudio(bytes)
  assert.equal(song.sampleRate, 48_000)
  assert.equal(song.sourceSampleRate, 44_100)
  // MP3 adds encoder delay and padding (about 1,100 frames + up to one 1,152-frame granule).
  assert.ok(song.frames >= 96_000 && song.frames < 96_000 + 3 * 1152, `frames ${song.frames}`)
  assert.ok(Math.abs(frequencyOf(song.channels[0].subarray(4800, 90_000), 48_000) - 440) < 1)
})

test('an Ogg Vorbis file decodes to its sines at the right pitch and length, resampled to 48 kHz', async () => {
  const rate = 44_100
  const left = sine(440, rate, 2 * rate)
  const right = sine(660, rate, 2 * rate)
  const bytes = await oggVorbisBytes({ sampleRate: rate, left, right })
  assert.equal(detectFormat(bytes), 'ogg-vorbis')
  const song = await decodeAudio(bytes)
  assert.equal(song.sourceSampleRate, rate)
  // A Vorbis granule position counts samples: the decode ends exactly where the source did.
  assert.equal(song.frames, 96_000)
  assert.ok(Math.abs(frequencyOf(song.channels[0].subarray(4800, 90_000), 48_000) - 440) < 1)
  assert.ok(Math.abs(frequencyOf(song.channels[1].subarray(4800, 90_000), 48_000) - 660) < 1)
})

test('unknown, other-codec Ogg, headless Vorbis and truncated files are refused with typed errors', async () => {
  await assert.rejects(decodeAudio(new TextEncoder().encode('hello, not audio')), {
    name: 'UnsupportedAudioError',
  })
  const ogg = (codecHeader: string) => {
    const bytes = new Uint8Array(64)
    bytes.set(new TextEncoder().encode('OggS'), 0)
    bytes.set(new TextEncoder().encode(codecHeader), 28)
    return bytes
  }
  assert.equal(detectFormat(ogg('\x80theora')), 'ogg-other')
  await assert.rejects(decodeAudio(ogg('\x80theora')), { name: 'UnsupportedAudioError' })
  // A Vorbis identification header and nothing after it: no audio, a clear error.
  await assert.rejects(decodeAudio(ogg('\x01vorbis')), { name: 'CorruptAudioError' })
  const wav = makeWav({ rate: 48_000, channels: [sine(440, 48_000, 100)], format: 1, bits: 16 })
  await assert.rejects(decodeAudio(wav.subarray(0, 30)), { name: 'CorruptAudioError' })
})

test('a Vorbis file cut short or with random bytes for audio plays what it holds and leaves the process running', async () => {
  const rate = 44_100
  const bytes = await oggVorbisBytes({
    sampleRate: rate,
    left: sine(440, rate, 2 * rate),
    right: sine(660, rate, 2 * rate),
  })
  const half = await decodeAudio(bytes.subarray(0, bytes.length >> 1))
  assert.ok(half.frames > 0 && half.frames < 96_000, `half the file: ${half.frames} frames`)
  // The headers stay; every byte after them is noise. The decoder must neither crash nor hang.
  const hostile = Buffer.from(bytes)
  const audioFrom = hostile.indexOf('OggS', hostile.indexOf('OggS', 1) + 1)
  assert.ok(audioFrom > 0)
  let x = 7
  for (let at = audioFrom + 40; at < hostile.length; at++) {
    x = (x * 16807) % 2147483647
    hostile[at] = x & 0xff
  }
  const garbled = await decodeAudio(hostile).catch((err: Error) => err)
  if (garbled instanceof Error) assert.equal(garbled.name, 'CorruptAudioError')
  else assert.ok(garbled.frames < 96_000, `${garbled.frames} frames from the garbled file`)
})
