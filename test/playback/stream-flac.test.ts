// A FLAC that is still arriving streams from the party's position: the song resolves once the frame holding the
// position is decoded while the beginning has not arrived — found through a SEEKTABLE, or from the position's share
// of the bytes, stepped back — its ready samples are the whole-file decode's, and it is whole once every byte is in.
// Frame headers are believed only with their CRC-8; a FLAC shorter than its STREAMINFO says ends with a clear error.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { DecodedSong } from '../../src/playback/decode.ts'
import { CorruptAudioError } from '../../src/playback/errors.ts'
import { parseFlacFrameHeader, readFlacStreamInfo } from '../../src/playback/stream-flac.ts'
import { type ByteSource, streamSong } from '../../src/playback/stream-song.ts'
import { flacBytes } from '../library/containers.ts'
import {
  gatedSource,
  noise,
  prefixSource,
  SAME,
  streamBesideWhole,
  streamsFromThePosition,
  worstDifference,
} from './stream-helpers.ts'

const OUT = 48_000
const RATE = 44_100
/** 16-bit mono verbatim frames: ~88 KB a second. */
const BYTES_PER_SECOND = 2 * RATE
const tags = { title: 't', artist: 'a', album: 'b' }

/** A mono 44.1 kHz FLAC of `seconds` of tones and noise. */
function flacSong(seconds: number, options?: { seekEvery?: number; constantFrames?: number }): Uint8Array {
  const pcm = noise(RATE, seconds, { tones: true })
  return flacBytes(
    Int16Array.from(pcm.left, (x) => Math.round(x * 20_000)),
    tags,
    options,
  )
}

/** Stream `flac` from `startAt` with everything from just after the head to 1.5 s before the position held back. */
async function flacFromThePosition(flac: Uint8Array, startAt: number): Promise<number[]> {
  const { source, release } = gatedSource(flac, Math.floor((startAt - 1.5) * BYTES_PER_SECOND))
  const reads = recordReads(source)
  await streamsFromThePosition(flac, source, release, startAt, RATE, OUT)
  return reads
}

/** Where each read of `source` starts, as they come. */
function recordReads(source: ByteSource): number[] {
  const reads: number[] = []
  const read = source.read
  source.read = (start, end, signal) => {
    reads.push(start)
    return read(start, end, signal)
  }
  return reads
}

/** Resolves to the song, or to 'waiting' if it has not come back within `ms`. */
async function within(promise: Promise<DecodedSong | undefined>, ms: number) {
  return Promise.race([
    promise,
    new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), ms)),
  ])
}

describe('streaming a FLAC from the position', () => {
  it('without a SEEKTABLE: from the position’s share of the bytes, stepped back to a frame before it', async () => {
    await flacFromThePosition(flacSong(20), 12.3)
  })

  it('where the bytes do not follow the samples: stepped back until the first frame found is before it', async () => {
    // The first 100 frames (9.3 s) take a few hundred bytes: the position's share of the bytes lands far too late.
    const flac = flacSong(20, { constantFrames: 100 })
    const { source, release } = gatedSource(flac, 0)
    const reads = recordReads(source)
    const { whole, song, finished } = await streamBesideWhole(flac, source, 16.5, OUT)
    release()
    const ready = song.ready ?? assert.fail('still arriving')
    assert.ok(ready.to >= 16.5 * OUT, `ready ${JSON.stringify(ready)}`)
    assert.ok(reads.length >= 4, `several tries further back: reads from ${reads.join(', ')}`)
    assert.equal(await finished(), undefined)
    const all = worstDifference(song.channels, whole.channels, 0, whole.frames)
    assert.ok(all.worst < SAME, `every sample equals the whole-file decode (worst ${all.worst})`)
  })

  it('with a SEEKTABLE: from the point at or before the position', async () => {
    const flac = flacSong(20, { seekEvery: 10 })
    const reads = await flacFromThePosition(flac, 7.9)
    // 7.9 s is in frame 85; the table has frames 0, 10, … 80: the audio is read from frame 80's header on.
    assert.equal(parseFlacFrameHeader(flac, reads[1] ?? -1, 4096)?.firstSample, 80 * 4096, `reads ${reads}`)
  })

  it('a SEEKTABLE that points past the position is caught: stepped back from there', async () => {
    const flac = Uint8Array.from(flacSong(20, { seekEvery: 10 }))
    // Every point claims a sample 20 frames earlier than the frame it points at.
    const view = new DataView(flac.buffer)
    // The SEEKTABLE block follows STREAMINFO: its header at byte 42, then 18-byte points.
    const table = 42
    assert.equal(flac[table] & 0x7f, 3)
    const length = (flac[table + 1] << 16) | (flac[table + 2] << 8) | flac[table + 3]
    for (let p = table + 4; p < table + 4 + length; p += 18) {
      const sample = Number(view.getBigUint64(p, false))
      view.setBigUint64(p, BigInt(Math.max(0, sample - 20 * 4096)), false)
    }
    await flacFromThePosition(flac, 7.9)
  })

  it('random bytes where the frames should be: a clear error, nothing played', async () => {
    const flac = Uint8Array.from(flacSong(4))
    const first = Buffer.from(flac).indexOf(Buffer.from([0xff, 0xf8, 0x79, 0x08, 0x00]))
    let x = 7
    for (let i = first; i < flac.length; i++) {
      x = (x * 16807) % 2147483647
      flac[i] = x & 0xff
    }
    const { source } = gatedSource(flac, 0)
    await assert.rejects(streamSong(source, { startAt: 1, outputSampleRate: OUT }), CorruptAudioError)
  })

  it('waits while the position has not arrived', async () => {
    const flac = flacSong(10)
    // Everything after the head waits.
    const { source, release } = prefixSource(flac, 64 * 1024)
    const pending = streamSong(source, { startAt: 6, aheadSec: 0, outputSampleRate: OUT })
    assert.equal(await within(pending, 300), 'waiting', 'nothing to play at 6 s yet')
    release()
    const song = await pending
    assert.ok(song !== undefined && (song.ready === undefined || song.ready.to >= 6 * OUT))
  })

  it('reads STREAMINFO: rate, channels and sample count', () => {
    const info = readFlacStreamInfo(flacSong(2))
    assert.deepEqual(info, { sampleRate: 44_100, channels: 1, totalSamples: 2 * 44_100 })
    assert.equal(readFlacStreamInfo(new Uint8Array(64)), undefined)
  })

  it('believes a frame header only with its CRC-8', () => {
    const flac = flacSong(2)
    const first = Buffer.from(flac).indexOf(Buffer.from([0xff, 0xf8, 0x79, 0x08, 0x00]))
    assert.ok(first > 0)
    assert.deepEqual(parseFlacFrameHeader(flac, first, 4096), { firstSample: 0, blockSize: 4096 })
    const second = Buffer.from(flac).indexOf(Buffer.from([0xff, 0xf8, 0x79, 0x08, 0x01]))
    assert.deepEqual(parseFlacFrameHeader(flac, second, 4096), { firstSample: 4096, blockSize: 4096 })
    const damaged = Uint8Array.from(flac)
    damaged[second + 4] = 0x02 // another frame number, the CRC-8 left as it was
    assert.equal(parseFlacFrameHeader(damaged, second, 4096), undefined)
    assert.equal(parseFlacFrameHeader(flac, first + 1, 4096), undefined)
  })

  it('does not stream a FLAC whose STREAMINFO leaves the sample count open', async () => {
    const flac = Uint8Array.from(flacSong(2))
    // Total samples: the low 4 bits of STREAMINFO byte 13 and bytes 14-17.
    flac[8 + 13] &= 0xf0
    flac.fill(0, 8 + 14, 8 + 18)
    assert.equal(readFlacStreamInfo(flac)?.totalSamples, 0)
    const { source } = gatedSource(flac, 0)
    assert.equal(await streamSong(source, { startAt: 0, outputSampleRate: OUT }), undefined)
  })

  it('a FLAC shorter than its STREAMINFO says ends with a clear error, its audio so far kept', async () => {
    const full = flacSong(4)
    const cut = full.subarray(0, Math.floor(full.length * 0.6))
    const { source } = gatedSource(cut, 0)
    let done: Error | undefined | 'pending' = 'pending'
    const song = await streamSong(source, {
      startAt: 0.5,
      aheadSec: 0,
      outputSampleRate: OUT,
      onDone: (err) => {
        done = err
      },
    })
    assert.ok(song)
    for (let i = 0; i < 2000 && done === 'pending'; i++)
      await new Promise((resolve) => setTimeout(resolve, 5))
    const outcome = done as Error | undefined | 'pending' // (set by onDone; TypeScript sees only 'pending')
    assert.ok(outcome instanceof CorruptAudioError, `a CorruptAudioError, got ${String(outcome)}`)
    assert.match(outcome.message, /FLAC ended after \d+ of its 176400 frames/)
    const ready = song.ready ?? assert.fail('not whole')
    assert.ok(ready.to > 2 * OUT, 'the part that arrived stays playable')
  })
})
