// VBR MP3, Ogg Vorbis and (with over 16 MiB of comments) Ogg Opus that are still arriving stream from their start: the song resolves once the audio up to the
// party's position is decoded while the rest has not arrived, its length is the whole-file decode's from the first
// moment (from the Xing frame count and gapless figures, or the last Ogg page), its ready samples are the whole-file
// decode's, and it is whole once every byte is in. Headers that leave the length open do not stream.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeMp3 } from '../../src/library/demo/encode.ts'
import type { DecodedSong } from '../../src/playback/decode.ts'
import { skipId3v2, withLameInfoFrame } from '../../src/playback/mp3-info.ts'
import {
  endGranule,
  lastGranule,
  opusStreamable,
  readOpusHead,
  readVorbisHead,
} from '../../src/playback/stream-sequential.ts'
import { collect, streamDecoded, streamSong } from '../../src/playback/stream-song.ts'
import { oggOpusBytes } from '../library/containers.ts'
import {
  gatedSource,
  hookedSource,
  noise,
  prefixSource,
  SAME,
  streamBesideWhole,
  worstDifference,
} from './stream-helpers.ts'
import { oggVorbisBytes } from './vorbis-fixture.ts'

const OUT = 48_000
const tags = { title: 't', artist: 'a', album: 'b' }

/** A VBR MP3: two CBR encodes (128 and 192 kbps) back to back, behind a Xing frame with LAME's gapless figures. */
function vbrMp3(): Uint8Array {
  const a = encodeMp3(noise(44_100, 3, { tones: true }), tags, { kbps: 128 })
  const b = encodeMp3(noise(44_100, 3, { tones: true }), tags, { kbps: 192 })
  const joined = Buffer.concat([a, b.subarray(skipId3v2(b))])
  const mp3 = withLameInfoFrame(joined, { encoderDelay: 576, sourceSamples: 6 * 44_100 })
  const at = Buffer.from(mp3).indexOf('Info')
  assert.ok(at > 0)
  mp3.set(Buffer.from('Xing'), at)
  return mp3
}

/**
 * Stream `bytes` with only the first `available` bytes there (and those from `tailFrom` on): the song comes
 * back with the audio up to `startAt` (and a little past) decoded, equal to the whole-file decode; it is whole
 * and equal once the rest is in. Returns the whole-file decode.
 */
async function streamsFromTheStart(
  bytes: Uint8Array,
  available: number,
  startAt: number,
  rate: number,
  tailFrom?: number,
  stream?: typeof streamSong,
): Promise<DecodedSong> {
  const { source, release } = prefixSource(bytes, available, tailFrom)
  const { whole, song, outcome, finished } = await streamBesideWhole(bytes, source, startAt, OUT, stream)
  assert.equal(song.sourceSampleRate, rate)
  const ready = song.ready ?? assert.fail('still arriving')
  assert.equal(ready.from, 0, 'from the start')
  assert.ok(ready.to >= startAt * OUT, `ready ${JSON.stringify(ready)} reaches ${startAt * OUT}`)
  assert.ok(ready.to < whole.frames, 'the end has not arrived')
  const partial = worstDifference(song.channels, whole.channels, 0, ready.to)
  assert.ok(partial.worst < SAME, `ready samples equal the whole-file decode (worst ${partial.worst})`)
  assert.equal(outcome(), 'pending')
  release()
  assert.equal(await finished(), undefined, 'finished without error')
  assert.equal(song.ready, undefined, 'whole')
  const all = worstDifference(song.channels, whole.channels, 0, whole.frames)
  assert.ok(all.worst < SAME, `every sample equals the whole-file decode (worst ${all.worst})`)
  return whole
}

/** With the capture pattern of every page in its last 64 KiB wiped, an Ogg file's length is unknown: it does not stream. */
async function doesNotStreamWithoutTailPages(ogg: Uint8Array): Promise<void> {
  const bytes = Buffer.from(ogg)
  for (let at = bytes.indexOf('OggS', bytes.length - 64 * 1024); at >= 0; at = bytes.indexOf('OggS', at + 1))
    bytes.write('Oggx', at, 'latin1')
  const { source } = gatedSource(bytes, 0)
  assert.equal(await streamSong(source, { startAt: 0, outputSampleRate: OUT }), undefined)
}

describe('streaming a VBR MP3 from its start', () => {
  it('plays the position once the bytes before it are in, equal to the whole-file decode', async () => {
    const mp3 = vbrMp3()
    // The first 3 s are at 128 kbps (16 KB a second), the rest at 192: 4.2 s are in; the party is at 3.5 s.
    await streamsFromTheStart(mp3, skipId3v2(mp3) + 3 * 16_000 + 1.2 * 24_000, 3.5, 44_100)
  })

  it('does not stream behind a Xing tag without gapless figures (its length is not known)', async () => {
    const mp3 = vbrMp3()
    const at = Buffer.from(mp3).indexOf('LAME')
    assert.ok(at > 0)
    mp3.set(Buffer.from('XXXX'), at)
    const { source } = gatedSource(mp3, 0)
    assert.equal(await streamSong(source, { startAt: 1, outputSampleRate: OUT }), undefined)
  })
})

describe('streaming an Ogg Opus from its start (its comments over 16 MiB)', () => {
  // 20 ms CELT frames of 160 pseudo-random bytes (noise once decoded): ~8 KB a second, 162 KB in all.
  const opus = () => oggOpusBytes(20, tags, { frameBytes: 160 })

  it('reads its length from the last page first, then plays the position once the bytes before it are in', async () => {
    const bytes = opus()
    const tailFrom = bytes.length - 64 * 1024
    // The first ~8 s and the last 64 KiB are in; the party is at 5 s.
    assert.ok(tailFrom > 66_000)
    // The path an Opus with over 16 MiB of comments takes (./stream-opus.ts seeks in any other).
    const fromItsStart: typeof streamSong = async (source, options) =>
      streamDecoded(
        (await opusStreamable(await collect(source, 0, 64 * 1024 - 1), source)) ?? assert.fail('streamable'),
        options,
      )
    const whole = await streamsFromTheStart(bytes, 66_000, 5, 48_000, tailFrom, fromItsStart)
    assert.equal(whole.frames, 20 * 48_000 - 312, 'the last granule position less the pre-skip')
  })

  it('finds the last granule position of its own stream only', () => {
    const bytes = opus()
    const head = readOpusHead(bytes) ?? assert.fail('an OpusHead')
    assert.deepEqual(head, { serial: 0x7475_7474, channels: 1, preSkip: 312 })
    assert.equal(lastGranule(bytes, head.serial), 20 * 48_000)
    assert.equal(lastGranule(bytes, head.serial + 1), undefined)
  })

  it('does not stream when no page near its end gives a granule position', async () => {
    await doesNotStreamWithoutTailPages(opus())
  })

  it('reads the length from the last 64 KiB piece alone when the last page starts in it (one swarm piece)', async () => {
    const branches = new Set<string>()
    // 16 s: the last page (at 97,425) starts in the last piece (from 65,536); 20 s: it starts before it.
    for (const seconds of [16, 20]) {
      const bytes = oggOpusBytes(seconds, tags, { frameBytes: 160 })
      const serial = readOpusHead(bytes)?.serial ?? assert.fail('an OpusHead')
      const ranges: Array<[number, number]> = []
      const source = hookedSource(bytes, (start, end) => ranges.push([start, end]))
      assert.equal(await endGranule(bytes.subarray(0, 100), source, serial), seconds * 48_000)
      const lastPiece = Math.floor((bytes.length - 1) / 65_536) * 65_536
      if (bytes.lastIndexOf('OggS') >= lastPiece) {
        branches.add('last piece')
        assert.deepEqual(ranges, [[lastPiece, bytes.length - 1]])
      } else {
        branches.add('last 64 KiB')
        assert.deepEqual(ranges, [
          [lastPiece, bytes.length - 1],
          [bytes.length - 65_536, bytes.length - 1],
        ])
      }
    }
    assert.equal(branches.size, 2, 'both cases seen')
  })
})

describe('streaming an Ogg Vorbis from its start', () => {
  // 12 s of stereo noise over tones at 44.1 kHz: ~30 KB a second, pages of ~4 KB.
  const vorbis = () => oggVorbisBytes(noise(44_100, 12, { tones: true }))

  /** Where each page starts, with its granule position (the samples up to the end of the page). */
  function pages(bytes: Uint8Array): Array<{ at: number; granule: number }> {
    const found: Array<{ at: number; granule: number }> = []
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    for (let at = buf.indexOf('OggS'); at >= 0; at = buf.indexOf('OggS', at + 1))
      found.push({ at, granule: Number(view.getBigInt64(at + 6, true)) })
    return found
  }

  it('reads its length from the last page first, then plays the position once the bytes before it are in', async () => {
    const bytes = await vorbis()
    const tailFrom = bytes.length - 64 * 1024
    // Everything up to the first page that ends past 6.5 s is in, and the last 64 KiB; the party is at 5 s.
    const available =
      pages(bytes).find((p) => p.granule > 6.5 * 44_100)?.at ?? assert.fail('a page past 6.5 s')
    assert.ok(available > 66_000 && tailFrom > available, `${available} of ${bytes.length} bytes`)
    const whole = await streamsFromTheStart(bytes, available, 5, 44_100, tailFrom)
    assert.equal(whole.frames, 12 * 48_000, 'the last granule position: 12 s')
  })

  it('parses the identification header and finds the last granule position of its own stream only', async () => {
    const bytes = await vorbis()
    const head = readVorbisHead(bytes) ?? assert.fail('a Vorbis identification header')
    assert.equal(head.channels, 2)
    assert.equal(head.sampleRate, 44_100)
    assert.equal(lastGranule(bytes, head.serial), 12 * 44_100)
    assert.equal(lastGranule(bytes, head.serial + 1), undefined)
    assert.equal(readVorbisHead(bytes.subarray(0, 30)), undefined, 'cut inside the header')
  })

  it('does not stream when no page near its end gives a granule position', async () => {
    await doesNotStreamWithoutTailPages(await vorbis())
  })
})
