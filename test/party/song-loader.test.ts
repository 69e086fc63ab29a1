// The party song loader: a song whose stream stops after it began to play (a provider gone) is completed from
// the downloaded file — the player's song becomes whole and equal to a whole-file decode — rather than staying
// partly silent, and takes the whole file's length when the header the stream went by misstated it; a stream that
// fails before it plays falls back to the whole file.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { encodeWav } from '../../src/library/demo/encode.ts'
import { createPartySongLoader } from '../../src/party/song-loader.ts'
import { type DecodedSong, decodeAudio, decodeAudioFile } from '../../src/playback/decode.ts'
import { flacBytes } from '../library/containers.ts'
import { noise } from '../playback/stream-helpers.ts'

const RATE = 44_100
const CID = 'bafy-test-song'

/** A swarm whose streaming read fails once a range reaches `failFrom` bytes, and whose download finishes on `finish()`. */
function flakySwarm(bytes: Uint8Array, path: string, failFrom: number) {
  let finish!: () => void
  const finished = new Promise<void>((resolve) => {
    finish = resolve
  })
  return {
    finish,
    swarm: {
      async download() {
        await finished
        return { path }
      },
      async *read(_cid: string, start: number, end: number) {
        for (let at = start; at <= end; at += 4096) {
          await new Promise((resolve) => setImmediate(resolve))
          if (at >= failFrom) throw new Error('the provider went away')
          yield bytes.subarray(at, Math.min(end + 1, at + 4096))
        }
      },
      waitForStat: async () => ({ size: bytes.length }),
    },
  }
}

describe('party song loader', () => {
  let dir: string
  let wav: Uint8Array
  let path: string
  let whole: DecodedSong

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tutti-song-loader-'))
    wav = encodeWav(noise(RATE, 4), { title: 't', artist: 'a', album: 'b' })
    path = join(dir, 'song.wav')
    await writeFile(path, wav)
    whole = await decodeAudio(wav, { outputSampleRate: 48_000 })
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  const loaderFor = (swarm: ReturnType<typeof flakySwarm>['swarm']) =>
    createPartySongLoader({
      library: { get: () => undefined },
      swarm,
      providers: () => [],
      decode: decodeAudioFile,
    })

  it('completes a song whose stream stopped after it began to play, from the downloaded file', async () => {
    // Streams from 1 s; the bytes stop at 2.5 s, well past the 0.5 s it needs to start.
    const { swarm, finish } = flakySwarm(wav, path, 44 + 2.5 * RATE * 4)
    const song = await loaderFor(swarm)(CID, { startAt: 1 })
    assert.ok(song, 'the song streams')
    await new Promise((resolve) => setTimeout(resolve, 100))
    // The stream has stopped at 2.5 s (give or take a 4 KiB chunk): nothing more arrives until the download is done.
    const stuck = song.ready
    assert.ok(stuck !== undefined && stuck.to <= 2.6 * 48_000, `partly there: ${JSON.stringify(stuck)}`)
    finish()
    for (let i = 0; i < 400 && song.ready !== undefined; i++) await new Promise((r) => setTimeout(r, 5))
    assert.equal(song.ready, undefined, 'whole once the download is in')
    let worst = 0
    for (let c = 0; c < whole.channels.length; c++)
      for (let i = 0; i < whole.frames; i++)
        worst = Math.max(worst, Math.abs(song.channels[c][i] - whole.channels[c][i]))
    assert.ok(worst < 1e-6, `every sample equals the whole-file decode (worst ${worst})`)
  })

  it('plays the whole decode when the header the stream went by misstated the length', async () => {
    // A FLAC whose STREAMINFO promises 4 s of its 3: the stream ends early, with an error, once it has played.
    const samples = Int16Array.from(noise(RATE, 3).left, (x) => Math.round(x * 20_000))
    const flac = Uint8Array.from(flacBytes(samples, { title: 't', artist: 'a', album: 'b' }))
    new DataView(flac.buffer).setUint32(8 + 14, 4 * RATE, false)
    const flacPath = join(dir, 'song.flac')
    await writeFile(flacPath, flac)
    const wholeFlac = await decodeAudio(flac, { outputSampleRate: 48_000 })
    assert.equal(wholeFlac.frames, 3 * 48_000)
    const { swarm, finish } = flakySwarm(flac, flacPath, Number.POSITIVE_INFINITY)
    const song = await loaderFor(swarm)(CID, { startAt: 0.5 })
    assert.ok(song, 'the song streams')
    assert.equal(song.frames, 4 * 48_000, 'as long as its header says, at first')
    finish()
    for (let i = 0; i < 400 && song.ready !== undefined; i++) await new Promise((r) => setTimeout(r, 5))
    assert.equal(song.ready, undefined, 'whole once the download is in')
    assert.equal(song.frames, wholeFlac.frames, 'as long as the whole-file decode')
    let worst = 0
    for (let i = 0; i < wholeFlac.frames; i++)
      worst = Math.max(worst, Math.abs(song.channels[0][i] - wholeFlac.channels[0][i]))
    assert.ok(worst < 1e-6, `every sample equals the whole-file decode (worst ${worst})`)
  })

  it('waits for the whole file when the stream fails before it can play', async () => {
    const { swarm, finish } = flakySwarm(wav, path, 44 + 1.1 * RATE * 4) // stops 0.1 s past the position
    const loading = loaderFor(swarm)(CID, { startAt: 1 })
    finish()
    const song = await loading
    assert.ok(song, 'decoded from the downloaded file')
    assert.equal(song.ready, undefined)
    assert.equal(song.frames, whole.frames)
  })
})
