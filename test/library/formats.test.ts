// The library indexes every format it promises (FLAC, Ogg Opus, M4A beside MP3 and WAV) with tags and
// duration, and a FLAC song decodes to exactly its samples. Files are built byte by byte (containers.ts).
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { test } from 'node:test'
import { createLibrary } from '../../src/library/index.ts'
import { decodeAudio } from '../../src/playback/decode.ts'
import { flacBytes, m4aBytes, oggOpusBytes } from './containers.ts'
import { mp3Bytes, tempDir, wavBytes, writeFiles } from './fixtures.ts'

function tone(seconds: number, rate: number): Int16Array {
  const out = new Int16Array(Math.round(seconds * rate))
  for (let i = 0; i < out.length; i++)
    out[i] = Math.round(
      8000 * Math.sin((2 * Math.PI * 440 * i) / rate) + 3000 * Math.sin((2 * Math.PI * 660 * i) / rate),
    )
  return out
}

test('FLAC, Ogg Opus, M4A, MP3 and WAV are indexed with their format, tags and duration', async (t) => {
  const music = await tempDir('formats')
  const data = await tempDir('formats-data')
  t.after(() => Promise.all([rm(music, { recursive: true }), rm(data, { recursive: true })]))
  await writeFiles(music, {
    'a.flac': flacBytes(tone(2, 44_100), { title: 'Flac Tune', artist: 'Lossless Band', album: 'Bits' }),
    'b.opus': oggOpusBytes(3, { title: 'Opus Tune', artist: 'Codec Crew', album: 'Frames' }),
    'c.m4a': m4aBytes(4, { title: 'Café Tune', artist: 'Apple Ensemble', album: 'Atoms' }),
    'd.mp3': mp3Bytes({ title: 'Mp3 Tune', artist: 'Layer Three', album: 'Frames' }),
    'e.wav': wavBytes({ title: 'Wav Tune', artist: 'Riff', album: 'Chunks' }),
  })
  const library = createLibrary({ folders: [music], dataDir: data })
  t.after(() => library.stop())
  await library.start()
  const songs = new Map(library.list().map((s) => [s.title, s]))
  assert.deepEqual(library.rejected(), [], 'every fixture is a valid song')
  const expect: [string, string, string, number][] = [
    ['Flac Tune', 'flac', 'Lossless Band', 2],
    ['Opus Tune', 'opus', 'Codec Crew', 3],
    ['Café Tune', 'm4a', 'Apple Ensemble', 4],
    ['Mp3 Tune', 'mp3', 'Layer Three', 2.5],
    ['Wav Tune', 'wav', 'Riff', 2.5],
  ]
  for (const [title, format, artist, seconds] of expect) {
    const song = songs.get(title)
    assert.ok(song, `${title} indexed`)
    assert.equal(song.format, format, title)
    assert.equal(song.artist, artist, title)
    assert.ok(
      Math.abs(song.durationSec - seconds) < 0.35,
      `${title}: ${song.durationSec} s, expected ~${seconds}`,
    )
  }
  assert.equal(songs.get('Opus Tune')?.mime, 'audio/ogg; codecs=opus')
  assert.equal(songs.get('Café Tune')?.album, 'Atoms')
})

test('a FLAC song decodes to exactly the samples it holds', async () => {
  const samples = tone(0.5, 44_100)
  const decoded = await decodeAudio(flacBytes(samples, { title: 't', artist: 'a', album: 'b' }), {
    outputSampleRate: 44_100,
  })
  assert.equal(decoded.sourceSampleRate, 44_100)
  assert.equal(decoded.frames, samples.length)
  const channel = decoded.channels[0]
  let worst = 0
  for (let i = 0; i < samples.length; i++) worst = Math.max(worst, Math.abs(channel[i] * 32768 - samples[i]))
  assert.ok(worst < 1.01, `largest sample error ${worst} LSB`)
})
