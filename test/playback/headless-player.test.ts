// Headless player: recordings with a sample-exact scheduled start, two players with different clocks aligning after mapping, drift following, pause/seek/resume, gapless hand-over, playhead reports, the pipe output and the library loader.
import assert from 'node:assert/strict'
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import type { DecodedSong } from '../../src/playback/decode.ts'
import { UnsupportedAudioError } from '../../src/playback/errors.ts'
import { createHeadlessPlayer, type HeadlessPlayer } from '../../src/playback/headless-player.ts'
import { RECORDING_CHUNK_ID, type RecordingInfo } from '../../src/playback/outputs.ts'
import type { PlayheadMapping } from '../../src/playback/renderer.ts'
import { librarySongLoader } from '../../src/playback/song-loader.ts'
import { pausedAt, type QueueEntry, resumedAt, seekedTo, type Timeline } from '../../src/playback/timeline.ts'
import { parseWav, wavChunks } from '../../src/playback/wav.ts'
import { ManualClock } from '../../src/shared/clock.ts'

const EPOCH = 1_700_000_000_000
const RATE = 48_000
const dir = mkdtempSync(join(tmpdir(), 'tutti-player-'))
after(() => rmSync(dir, { recursive: true, force: true }))
/** s16 quantisation of the recording (32767 vs 32768 scaling and rounding) stays below this. */
const S16_TOLERANCE = 1 / 16_000

/** Seeded noise that is never near zero: onsets and correlations are unambiguous. */
function noiseSong(seed: number, frames: number): DecodedSong {
  let a = seed
  const next = () => {
    a = (a * 1_103_515_245 + 12_345) % 2 ** 31
    return a / 2 ** 31
  }
  const left = Float32Array.from({ length: frames }, () => (next() < 0.5 ? -1 : 1) * (0.1 + 0.8 * next()))
  const right = Float32Array.from(left, (v) => -v)
  return { sampleRate: RATE, channels: [left, right], frames, sourceSampleRate: RATE }
}

interface Mapping {
  toParty(localMs: number): number
  toLocal(partyMs: number): number
}
const identity: Mapping = { toParty: (l) => l, toLocal: (p) => p }

/** party = local + offset + drift·(local − EPOCH): a node whose clock is off and runs at a different rate. */
function skewed(offsetMs: number, driftPpm: number): Mapping {
  const d = driftPpm / 1e6
  return {
    toParty: (l) => l + offsetMs + d * (l - EPOCH),
    toLocal: (p) => (p - offsetMs + d * EPOCH) / (1 + d),
  }
}

function player(
  name: string,
  mapping: Mapping,
  songs: Record<string, DecodedSong>,
  recordingStartLocalMs = EPOCH,
) {
  const path = join(dir, `${name}.wav`)
  const p = createHeadlessPlayer(
    { output: `wav:${path}`, recordingStartLocalMs },
    { clock: new ManualClock(recordingStartLocalMs), ...mapping, loadSong: async (cid) => songs[cid] },
  )
  return { p, path }
}

function readRecording(path: string): { left: Float32Array; info: RecordingInfo } {
  const bytes = new Uint8Array(readFileSync(path))
  const chunk = wavChunks(bytes).find((c) => c.id === RECORDING_CHUNK_ID)
  assert.ok(chunk, 'recording carries its start time')
  const info = JSON.parse(new TextDecoder().decode(bytes.subarray(chunk.start, chunk.start + chunk.size)))
  assert.deepEqual(JSON.parse(readFileSync(`${path}.json`, 'utf8')), info, 'sidecar matches the chunk')
  return { left: parseWav(bytes).channels[0], info }
}

function firstSound(samples: Float32Array, from = 0): number {
  for (let i = from; i < samples.length; i++) if (samples[i] !== 0) return i
  return -1
}

async function play(p: HeadlessPlayer, timeline: Timeline, queue: QueueEntry[], untilLocal: number) {
  await p.start()
  p.setTimeline(timeline, queue)
  await p.whenLoaded()
  p.renderUntil(untilLocal)
  await p.stop()
}

const song = noiseSong(1, 96_000) // 2 s
const queue: QueueEntry[] = [{ entryId: 'e1', cid: 'a', duration: { frames: 96_000, sampleRate: RATE } }]
const start = (anchorPartyTime: number): Timeline => ({
  entryId: 'e1',
  cid: 'a',
  anchorPartyTime,
  anchorPosition: 0,
  paused: false,
  rate: 1,
})

test('a start scheduled at party time T is heard from exactly the right sample', async () => {
  const T = EPOCH + 1234.5 // 1234.5 ms × 48 = sample 59,256
  const { p, path } = player('scheduled', identity, { a: song })
  await play(p, start(T), queue, EPOCH + 4000)
  const { left, info } = readRecording(path)
  assert.equal(info.recordingStartLocalMs, EPOCH)
  assert.equal(firstSound(left), 59_256)
  for (const k of [0, 1, 777, 95_999]) {
    assert.ok(Math.abs(left[59_256 + k] - song.channels[0][k]) < S16_TOLERANCE, `song frame ${k} in place`)
  }
  assert.equal(left[59_256 + 96_000], 0, 'silence after the song')
})

test('two players whose clocks differ by 123.4567 ms and 200 ppm record the same sound at the same party time', async () => {
  const T = EPOCH + 500
  const b = skewed(123.4567, 200)
  const A = player('align-a', identity, { a: song })
  const B = player('align-b', b, { a: song }, EPOCH + 37.3) // B also started recording at another moment
  await play(A.p, start(T), queue, EPOCH + 3000)
  await play(B.p, start(T), queue, EPOCH + 3000)
  const ra = readRecording(A.path)
  const rb = readRecording(B.path)
  // The onset, mapped to party time, is within one sample of T on both.
  for (const [r, m] of [
    [ra, identity],
    [rb, b],
  ] as const) {
    const k = firstSound(r.left)
    const party = m.toParty(r.info.recordingStartLocalMs + (k * 1000) / RATE)
    // Sub-sample offsets are interpolated, so the onset sample lies within one sample period of T.
    assert.ok(Math.abs(party - T) <= 1000 / RATE, `onset at party ${party - T} ms after T`)
  }
  // Map B's recording onto A's sample grid through the party clock, then cross-correlate.
  const mappedB = new Float32Array(ra.left.length)
  for (let k = 0; k < mappedB.length; k++) {
    const party = ra.info.recordingStartLocalMs + (k * 1000) / RATE
    const x = ((b.toLocal(party) - rb.info.recordingStartLocalMs) * RATE) / 1000
    const i = Math.floor(x)
    const f = x - i
    if (i >= 0 && i + 1 < rb.left.length) mappedB[k] = rb.left[i] * (1 - f) + rb.left[i + 1] * f
  }
  // Check the first and the last half second: without drift following, the end would be ~19 samples off.
  for (const from of [24_000, 96_000]) {
    let bestLag = 0
    let best = Number.NEGATIVE_INFINITY
    for (let lag = -40; lag <= 40; lag++) {
      let sum = 0
      for (let k = from; k < from + 24_000; k++) sum += ra.left[k] * mappedB[k + lag]
      if (sum > best) {
        best = sum
        bestLag = lag
      }
    }
    assert.equal(bestLag, 0, `lag around sample ${from}`)
  }
})

test('pause silences from the pause time; resume continues from the paused place; seek jumps', async () => {
  const T = EPOCH + 100
  const { p, path } = player('pause', identity, { a: song })
  await p.start()
  const playing = start(T)
  p.setTimeline(playing, queue)
  await p.whenLoaded()
  p.renderUntil(T + 500)
  const paused = pausedAt(playing, T + 500, queue)
  p.setTimeline(paused, queue)
  p.renderUntil(T + 1000)
  assert.equal(p.playhead().playing, false)
  assert.equal(p.playhead().idle, 'paused')
  const resumed = resumedAt(paused, T + 1000)
  p.setTimeline(resumed, queue)
  p.renderUntil(T + 1500)
  const seeked = seekedTo(resumed, queue[0], 1.2, T + 1500)
  p.setTimeline(seeked, queue)
  p.renderUntil(T + 2000)
  await p.stop()
  const { left } = readRecording(path)
  const at = (partyMs: number) => ((partyMs - EPOCH) * RATE) / 1000
  const near = (a: number, b: number) => Math.abs(a - b) < S16_TOLERANCE
  assert.ok(near(left[at(T + 500) - 1], song.channels[0][23_999]), 'last frame before the pause')
  assert.equal(firstSound(left, at(T + 500)), at(T + 1000), 'silent while paused')
  assert.ok(near(left[at(T + 1000)], song.channels[0][24_000]), 'resumes at 0.5 s')
  assert.ok(near(left[at(T + 1500) - 1], song.channels[0][47_999]))
  assert.ok(near(left[at(T + 1500)], song.channels[0][57_600]), 'seek lands on 1.2 s')
})

test('the next song starts on the sample after the previous one ends (gapless)', async () => {
  const second = noiseSong(2, 48_000)
  const twoSongs: QueueEntry[] = [
    { entryId: 'e1', cid: 'a', duration: { frames: 96_000, sampleRate: RATE } },
    { entryId: 'e2', cid: 'b', duration: { frames: 48_000, sampleRate: RATE } },
  ]
  const T = EPOCH + 200
  const { p, path } = player('gapless', identity, { a: song, b: second })
  await p.start()
  p.setTimeline(start(T), twoSongs)
  await p.whenLoaded()
  // Render in steps, as the timer would: the second song is loaded when playback nears it.
  for (let t = EPOCH; t < EPOCH + 4000; t += 100) {
    p.renderUntil(t)
    await p.whenLoaded()
  }
  await p.stop()
  const { left } = readRecording(path)
  const s = ((T - EPOCH) * RATE) / 1000
  assert.ok(Math.abs(left[s + 95_999] - song.channels[0][95_999]) < S16_TOLERANCE)
  assert.ok(Math.abs(left[s + 96_000] - second.channels[0][0]) < S16_TOLERANCE)
  assert.ok(Math.abs(left[s + 96_000 + 47_999] - second.channels[0][47_999]) < S16_TOLERANCE)
  assert.equal(left[s + 96_000 + 48_000], 0)
})

test('the playhead mapping tells the truth about what is playing and follows drift', async () => {
  const b = skewed(-50, -300)
  const T = b.toParty(EPOCH) + 100
  const { p } = player('playhead', b, { a: song })
  const reports: PlayheadMapping[] = []
  p.on('playhead', (m) => reports.push(m))
  await play(p, start(T), queue, EPOCH + 1000)
  const playing = reports.filter((r) => r.playing)
  assert.ok(playing.length >= 3, `${playing.length} reports while playing`)
  assert.equal(reports[0].playing, false)
  for (const r of playing) {
    assert.equal(r.entryId, 'e1')
    // Position = party time since T; rate = party seconds per local second.
    const expected = (b.toParty(r.localTime) - T) / 1000
    assert.ok(Math.abs(r.mediaPosition - expected) < 1e-6, `position ${r.mediaPosition} vs ${expected}`)
    assert.ok(Math.abs(r.rate - (1 - 300e-6)) < 1e-6, `rate ${r.rate}`)
  }
  const gaps = playing.slice(1).map((r, i) => r.localTime - playing[i].localTime)
  assert.ok(
    gaps.every((g) => g <= 260),
    `reports every ~250 ms: ${gaps}`,
  )
})

test('an output that is not none, wav: or pipe: is refused', () => {
  assert.throws(
    () =>
      createHeadlessPlayer(
        { output: 'speakers' },
        { clock: new ManualClock(), ...identity, loadSong: async () => undefined },
      ),
    { name: 'InvalidOutputError' },
  )
})

test('pipe: output streams raw s16le stereo to the command, as many frames as were rendered', async () => {
  const out = join(dir, 'piped.raw')
  const p = createHeadlessPlayer(
    { output: `pipe:cat > '${out}'`, recordingStartLocalMs: EPOCH },
    { clock: new ManualClock(EPOCH), ...identity, loadSong: async (cid) => ({ a: song })[cid] },
  )
  await play(p, start(EPOCH), queue, EPOCH + 500)
  const raw = readFileSync(out)
  assert.equal(raw.length, 0.5 * RATE * 4)
  assert.ok(Math.abs(raw.readInt16LE(4 * 100) / 32767 - song.channels[0][100]) < S16_TOLERANCE, 'left')
  assert.ok(Math.abs(raw.readInt16LE(4 * 100 + 2) / 32767 - song.channels[1][100]) < S16_TOLERANCE, 'right')
})

test('songs are loaded from the library by content id; unknown ids give silence, not an error', async () => {
  const wavPath = join(dir, 'lib.wav')
  const { p: recorder, path } = player('lib-source', identity, { a: song })
  await play(recorder, start(EPOCH), queue, EPOCH + 100)
  copyFileSync(path, wavPath)
  const load = librarySongLoader({ get: (cid) => (cid === 'x' ? ({ path: wavPath } as never) : undefined) })
  const decoded = await load('x')
  assert.equal(decoded?.frames, 4800)
  assert.equal(await load('nope'), undefined)
})

test('a song that was not available yet is asked for again and plays once it arrives', async () => {
  const clock = new ManualClock(EPOCH)
  let available = false
  const path = join(dir, 'late.wav')
  const p = createHeadlessPlayer(
    { output: `wav:${path}`, recordingStartLocalMs: EPOCH, retryLoadMs: 1000 },
    { clock, ...identity, loadSong: async () => (available ? song : undefined) },
  )
  await p.start()
  p.setTimeline(start(EPOCH), queue)
  await p.whenLoaded()
  p.renderUntil(EPOCH + 500)
  assert.equal(p.playhead().idle, 'loading')
  available = true // the download finished
  for (let t = EPOCH + 500; t <= EPOCH + 2000; t += 100) {
    clock.set(t)
    p.renderUntil(t)
    await p.whenLoaded()
  }
  assert.equal(p.playhead().playing, true)
  await p.stop()
  const { left } = readRecording(path)
  const first = firstSound(left)
  assert.ok(first > 24_000 && first <= 1.6 * RATE, `first sound at ${first}`)
  // It joins the party where the party is, not at the song's start.
  assert.ok(Math.abs(left[first] - song.channels[0][first]) < S16_TOLERANCE)
})

test('a song in a format the node cannot decode is not asked for again; one that failed otherwise is', async () => {
  for (const [error, expectedCalls] of [
    [new UnsupportedAudioError('AAC is not supported'), 1],
    [new Error('the download stalled'), 3],
  ] as const) {
    const clock = new ManualClock(EPOCH)
    let calls = 0
    const p = createHeadlessPlayer(
      { output: `wav:${join(dir, 'unsupported.wav')}`, recordingStartLocalMs: EPOCH, retryLoadMs: 1000 },
      {
        clock,
        ...identity,
        loadSong: async () => {
          calls++
          throw error
        },
      },
    )
    await p.start()
    try {
      // A 10 s song: still wanted throughout.
      p.setTimeline(start(EPOCH), [
        { entryId: 'e1', cid: 'a', duration: { frames: 10 * RATE, sampleRate: RATE } },
      ])
      for (let t = EPOCH; t <= EPOCH + 2500; t += 100) {
        clock.set(t)
        p.renderUntil(t)
        await p.whenLoaded()
      }
      assert.equal(p.playhead().idle, 'loading')
    } finally {
      await p.stop()
    }
    assert.equal(calls, expectedCalls, `${error.message}: asked ${calls} times in 2.5 s`)
  }
})

test('a pipe output that fell behind skips ahead instead of playing late forever', async () => {
  const out = join(dir, 'starved.raw')
  const clock = new ManualClock(EPOCH)
  const p = createHeadlessPlayer(
    { output: `pipe:cat > '${out}'`, recordingStartLocalMs: EPOCH, outputLatencyMs: 100 },
    { clock, ...identity, loadSong: async (cid) => ({ a: song })[cid] },
  )
  await p.start()
  p.setTimeline(start(EPOCH), queue)
  await p.whenLoaded()
  p.renderUntil(EPOCH + 200)
  clock.set(EPOCH + 700) // a 500 ms stall: the device ran dry at +200 ms
  p.renderUntil(EPOCH + 900)
  await p.stop()
  assert.equal(p.underruns, 1)
  const raw = readFileSync(out)
  // After the 200 ms on time, the stream resumes with the audio due 100 ms (the latency) after the stall ended.
  const resumedFrame = 200 * 48
  const value = raw.readInt16LE(resumedFrame * 4) / 32767
  assert.ok(
    Math.abs(value - song.channels[0][800 * 48]) < S16_TOLERANCE,
    'resumes with the audio due at +800 ms',
  )
})
