// A member who joins mid-song without the song on disk fetches it through the swarm from the party and plays it within 2 ms of the host (its clock offset by seconds and drifting), from verified bytes identical to the host's file; behind a slow host uplink (down to 1.5x the song's bitrate), a WAV, CBR MP3, FLAC, Ogg Opus or Ogg Vorbis song plays from the party's position before its download completes.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { hashFile } from '../../src/library/content-id.ts'
import { encodeMp3 } from '../../src/library/demo/encode.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { createPartyService, type PartyService } from '../../src/party/service.ts'
import { createPartySongLoader } from '../../src/party/song-loader.ts'
import { decodeAudioFile } from '../../src/playback/decode.ts'
import { createHeadlessPlayer, type HeadlessPlayer } from '../../src/playback/headless-player.ts'
import { withLameInfoFrame } from '../../src/playback/mp3-info.ts'
import type { PlayheadMapping } from '../../src/playback/renderer.ts'
import { wavHeader } from '../../src/playback/wav.ts'
import { type Clock, monotonicClock } from '../../src/shared/clock.ts'
import { mulberry32 } from '../../src/shared/random.ts'
import { createSwarm, type Swarm } from '../../src/swarm/index.ts'
import { waitFor } from '../helpers/wait.ts'
import { flacBytes, oggOpusBytes } from '../library/containers.ts'
import { oggVorbisBytes } from '../playback/vorbis-fixture.ts'
import { FakeLibrary } from '../swarm/helpers.ts'

const SONG_SECONDS = 90
const RATE = 48_000

interface Member {
  name: string
  clock: Clock
  driftPpm: number
  /** The member's clock reading → true (monotonic) time. */
  toTrue(local: number): number
  libp2p: TuttiLibp2p
  library: FakeLibrary
  swarm: Swarm
  party: PartyService
  player: HeadlessPlayer
  mappings: PlayheadMapping[]
  loads: Array<{ cid: string; fromDisk: boolean }>
  dataDir: string
}

async function makeMember(
  name: string,
  offsetMs: number,
  driftPpm: number,
  uploadRateBytes?: number,
): Promise<Member> {
  const t0 = monotonicClock.now()
  const clock: Clock = {
    now: () => {
      const t = monotonicClock.now()
      return t + offsetMs + ((t - t0) * driftPpm) / 1e6
    },
  }
  const toTrue = (local: number) => t0 + (local - offsetMs - t0) / (1 + driftPpm / 1e6)
  const dataDir = await mkdtemp(join(tmpdir(), `tutti-sync-join-${name}-`))
  const key = await generateKeyPair('Ed25519')
  const libp2p = await createTuttiLibp2p({
    privateKey: key,
    mdns: false,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    autoDialBelow: 0,
  })
  const library = new FakeLibrary()
  const swarm = createSwarm({ dataDir, dht: false, uploadRateBytes }, { libp2p, library, clock })
  await swarm.start()
  const party = createPartyService(
    { dataDir, displayName: name },
    { libp2p, clock, privateKey: key, library, swarm },
  )
  const loads: Member['loads'] = []
  const loadSong = createPartySongLoader({
    library,
    swarm,
    providers: () => party.songProviders(),
    decode: decodeAudioFile,
  })
  const player = createHeadlessPlayer(
    { output: 'none', playheadIntervalMs: 100 },
    {
      clock,
      toLocal: (p) => party.localTimeOf(p),
      toParty: (l) => party.partyTimeOf(l),
      loadSong: async (cid, options) => {
        const fromDisk = library.get(cid) !== undefined
        const song = await loadSong(cid, options)
        if (song !== undefined) loads.push({ cid, fromDisk })
        return song
      },
    },
  )
  await party.start()
  party.attachPlayer(player)
  await player.start()
  const mappings: PlayheadMapping[] = []
  player.on('playhead', (m) => mappings.push(m))
  return { name, clock, driftPpm, toTrue, libp2p, library, swarm, party, player, mappings, loads, dataDir }
}

/** Seconds into the song at true time T by the member's latest mapping at or before T; undefined when silent. */
function positionAt(m: Member, T: number, entryId: string): number | undefined {
  let best: PlayheadMapping | undefined
  for (let i = m.mappings.length - 1; i >= 0; i--) {
    if (m.toTrue(m.mappings[i].localTime) <= T) {
      best = m.mappings[i]
      break
    }
  }
  if (best === undefined || !best.playing || best.entryId !== entryId) return undefined
  const elapsedLocal = (T - m.toTrue(best.localTime)) * (1 + m.driftPpm / 1e6)
  if (elapsedLocal > 500) return undefined // a stale mapping: the player went quiet
  return best.mediaPosition + (elapsedLocal / 1000) * best.rate
}

/** Deterministic noise, mono 16-bit at `rate`: 90 s at 48 kHz ≈ 8.6 MB, many swarm pieces. */
async function writeNoiseSong(dir: string, rate: number): Promise<string> {
  const random = mulberry32(7)
  const data = Buffer.alloc(SONG_SECONDS * rate * 2)
  for (let i = 0; i < SONG_SECONDS * rate; i++) data.writeInt16LE(Math.round((random() - 0.5) * 16000), i * 2)
  const path = join(dir, 'song.wav')
  await writeFile(
    path,
    Buffer.concat([wavHeader({ sampleRate: rate, channels: 1, dataBytes: data.length }), data]),
  )
  return path
}

async function stopMembers(...members: Array<Member | undefined>): Promise<void> {
  for (const m of members) {
    if (m === undefined) continue
    await m.player.stop()
    await m.party.stop()
    await m.swarm.stop()
    await m.libp2p.stop()
    await rm(m.dataDir, { recursive: true, force: true })
  }
}

describe('mid-song join through the swarm', { timeout: 120_000 }, () => {
  let host: Member
  let joiner: Member
  let songDir: string
  let songPath: string

  before(async () => {
    songDir = await mkdtemp(join(tmpdir(), 'tutti-sync-join-song-'))
    songPath = await writeNoiseSong(songDir, RATE)
    host = await makeMember('host', 0, 0)
    joiner = await makeMember('joiner', 7_250, -180)
  })

  after(async () => {
    await stopMembers(joiner, host)
    await rm(songDir, { recursive: true, force: true })
  })

  it('a joiner without the song fetches it and plays within 2 ms of the host', async () => {
    const { cid, manifest } = await hashFile(songPath)
    host.library.add(songPath, cid, manifest).durationSec = SONG_SECONDS
    const { invite } = await host.party.create({ name: 'Join mid-song' })
    await host.party.command({
      type: 'enqueue',
      song: { cid, title: 'Noise', artist: 'Test', durationSec: SONG_SECONDS },
    })
    await host.party.command({ type: 'play' })
    const entryId = host.party.status()?.queue[0]?.entryId ?? assert.fail('queued')
    // Mid-song: the host has been playing for a while.
    await waitFor(
      () => (positionAt(host, monotonicClock.now() - 200, entryId) ?? 0) > 3,
      'the host to be 3 s into the song',
      { timeoutMs: 30_000 },
    )
    assert.equal(joiner.library.get(cid), undefined, 'the joiner starts without the song')
    await joiner.party.join(invite)

    // Within 2 ms for 20 consecutive checks 100 ms apart (2 s), comparing at the same true instant.
    let streak = 0
    let lastError = Number.NaN
    await waitFor(
      () => {
        const T = monotonicClock.now() - 200 // both players have reported past this instant
        const ref = positionAt(host, T, entryId)
        const mine = positionAt(joiner, T, entryId)
        lastError = ref === undefined || mine === undefined ? Number.NaN : Math.abs(mine - ref) * 1000
        streak = lastError < 2 ? streak + 1 : 0
        return streak >= 20
      },
      'the joiner to play within 2 ms of the host for 2 s',
      { timeoutMs: 60_000, intervalMs: 100 },
    ).catch((err: Error) => {
      // Say where it stands: the clock, the song, the player.
      const status = joiner.party.status()
      const state = {
        lastErrorMs: lastError,
        loads: joiner.loads,
        connection: status?.connection,
        clockUncertaintyMs: status?.syncErrorMs,
        readiness: status?.readiness,
        download: joiner.swarm.get(cid),
        lastMapping: joiner.mappings.at(-1),
        hostMappings: host.mappings.length,
      }
      throw new Error(`${err.message}: ${JSON.stringify(state)}`)
    })

    assert.deepEqual(
      joiner.loads[0],
      { cid, fromDisk: false },
      'the joiner played a copy fetched through the swarm',
    )
    const fetched = joiner.library.get(cid) ?? assert.fail('the fetched song joined the library')
    assert.deepEqual(
      await readFile(fetched.path),
      await readFile(songPath),
      'the fetched bytes are the host file',
    )
  })
})

/** Deterministic noise over a tone, stereo 128 kbps CBR MP3 at 44.1 kHz with a LAME Info frame (gapless). */
async function writeMp3Song(dir: string, seconds: number): Promise<string> {
  const rate = 44_100
  const random = mulberry32(11)
  const left = Float32Array.from(
    { length: rate * seconds },
    (_, i) => 0.3 * Math.sin(i * 0.05) + (random() - 0.5) * 0.3,
  )
  const right = Float32Array.from({ length: rate * seconds }, () => (random() - 0.5) * 0.4)
  const mp3 = withLameInfoFrame(
    encodeMp3({ sampleRate: rate, left, right }, { title: 'Noise', artist: 'Test', album: 'Test' }),
    {
      encoderDelay: 576,
      sourceSamples: left.length,
    },
  )
  const path = join(dir, 'song.mp3')
  await writeFile(path, mp3)
  return path
}

/** Deterministic noise over a tone, mono 16-bit 44.1 kHz FLAC (verbatim frames, ~88 KB a second, no SEEKTABLE). */
async function writeFlacSong(dir: string, seconds: number): Promise<string> {
  const random = mulberry32(13)
  const samples = Int16Array.from(
    { length: 44_100 * seconds },
    (_, i) => 9000 * Math.sin(i * 0.05) + (random() - 0.5) * 9000,
  )
  const path = join(dir, 'song.flac')
  await writeFile(path, flacBytes(samples, { title: 'Noise', artist: 'Test', album: 'Test' }))
  return path
}

/** Mono Ogg Opus of CELT frames of 640 pseudo-random bytes (noise once decoded): 256 kbps, ~32 KB a second. */
async function writeOpusSong(dir: string, seconds: number): Promise<string> {
  const path = join(dir, 'song.opus')
  await writeFile(
    path,
    oggOpusBytes(seconds, { title: 'Noise', artist: 'Test', album: 'Test' }, { frameBytes: 640 }),
  )
  return path
}

/** Deterministic noise over tones, stereo 44.1 kHz Ogg Vorbis at libvorbis quality 6: ~210 kbps, ~26 KB a second. */
async function writeVorbisSong(dir: string, seconds: number): Promise<string> {
  const random = mulberry32(17)
  const channel = (step: number) =>
    Float32Array.from(
      { length: 44_100 * seconds },
      (_, i) => 0.3 * Math.sin(i * step) + (random() - 0.5) * 0.3,
    )
  const path = join(dir, 'song.ogg')
  const pcm = { sampleRate: 44_100, left: channel(0.05), right: channel(0.031) }
  await writeFile(path, await oggVorbisBytes(pcm, { quality: 6 }))
  return path
}

/**
 * `fromPosition`: the song starts at the party's position, so it plays while pieces between its head and the
 * position are still missing (checked where enough pieces lie before the position to tell).
 */
const STREAMING_CASES = [
  {
    what: '44.1 kHz WAV, resampled',
    fromPosition: true,
    seconds: SONG_SECONDS,
    write: (dir: string) => writeNoiseSong(dir, 44_100),
    // The host's uplink carries the 7.9 MB song in ~30 s; the audio at the join position needs well under a second of it.
    uploadRate: 256 * 1024,
    joinAfter: 20,
  },
  {
    what: '128 kbps CBR MP3 (decoded from a frame boundary before the position)',
    // Too few pieces lie before the position (2 of 30) to tell from which ones arrived.
    fromPosition: false,
    seconds: 120,
    write: (dir: string) => writeMp3Song(dir, 120),
    // ~1.9 MB (30 pieces) at 64 KiB/s (4x the song's bitrate): ~30 s for the whole file; the head and the audio at the position are 2 pieces.
    uploadRate: 64 * 1024,
    joinAfter: 12,
  },
  {
    what: 'FLAC (decoded from the frame holding the position)',
    fromPosition: true,
    seconds: 60,
    write: (dir: string) => writeFlacSong(dir, 60),
    // 5.3 MB at 128 KiB/s: ~40 s for the whole file; the head and the audio at the position are 2-3 pieces.
    uploadRate: 128 * 1024,
    joinAfter: 12,
  },
  {
    what: 'Ogg Opus (its last page read first for the length, then decoded from the page before the position)',
    fromPosition: true,
    seconds: 120,
    write: (dir: string) => writeOpusSong(dir, 120),
    // ~3.9 MB (59 pieces) at 128 KiB/s (4x the song's bitrate): ~30 s for the whole file; the head, the tail
    // and the pages at the position are 3-4 pieces.
    uploadRate: 128 * 1024,
    joinAfter: 12,
  },
  {
    what: 'Ogg Opus behind an uplink of only 1.5x its bitrate',
    fromPosition: true,
    seconds: 120,
    write: (dir: string) => writeOpusSong(dir, 120),
    // 48 KiB/s: each 64 KiB piece takes 1.3 s and holds ~2 s of audio, so the stream gains only 0.5 s per second.
    // It plays in ~10 s: no unread piece goes out ahead of the player's reads (head, tail, the pages at the
    // position), it aims where the party is once head and tail are in, plus one read's time, and it starts at
    // a page a little past the position rather than read back for one. Before those it played after ~40 s.
    uploadRate: 48 * 1024,
    joinAfter: 12,
  },
  {
    what: 'Ogg Vorbis (its last page read first for the length, then decoded from its start)',
    fromPosition: false,
    seconds: 120,
    write: (dir: string) => writeVorbisSong(dir, 120),
    // ~3.2 MB (49 pieces) at 128 KiB/s (~5x the song's bitrate): ~25 s for the whole file. The stream catches
    // up with the party after ~12 / (5 - 1) = 3 s more, with the tail's 64 KiB read first.
    uploadRate: 128 * 1024,
    joinAfter: 12,
  },
]

for (const c of STREAMING_CASES) {
  describe(`mid-song join while the song is still arriving: ${c.what}`, { timeout: 120_000 }, () => {
    let host: Member | undefined
    let joiner: Member | undefined
    let songDir: string

    after(async () => {
      await stopMembers(joiner, host)
      await rm(songDir, { recursive: true, force: true })
    })

    it('a joiner plays the song from the party position long before the whole file is there', async () => {
      songDir = await mkdtemp(join(tmpdir(), 'tutti-sync-stream-song-'))
      const songPath = await c.write(songDir)
      host = await makeMember('host', 0, 0, c.uploadRate)
      joiner = await makeMember('joiner', -3_100, 120)
      const { cid, manifest } = await hashFile(songPath)
      host.library.add(songPath, cid, manifest).durationSec = c.seconds
      const { invite } = await host.party.create({ name: 'Join while it streams' })
      await host.party.command({
        type: 'enqueue',
        song: { cid, title: 'Noise', artist: 'Test', durationSec: c.seconds },
      })
      await host.party.command({ type: 'play' })
      const entryId = host.party.status()?.queue[0]?.entryId ?? assert.fail('queued')
      const h = host
      await waitFor(
        () => (positionAt(h, monotonicClock.now() - 200, entryId) ?? 0) > c.joinAfter,
        `the host ${c.joinAfter} s in`,
        { timeoutMs: 40_000 },
      )
      const verified = new Set<number>()
      joiner.swarm.on('piece:verified', (e) => {
        if (e.cid === cid) verified.add(e.piece)
      })
      const joinedAt = performance.now()
      await joiner.party.join(invite)
      const j = joiner
      let playingWhileIncomplete:
        | {
            afterJoinMs: number
            piecesDone: number
            pieces?: number
            errorMs: number
            missingBefore: number[]
          }
        | undefined
      await waitFor(
        () => {
          const T = monotonicClock.now() - 200
          const ref = positionAt(h, T, entryId)
          const mine = positionAt(j, T, entryId)
          const download = j.swarm.get(cid)
          if (download?.state === 'done')
            throw new Error(`the download completed before the joiner played (${JSON.stringify(download)})`)
          if (ref === undefined || mine === undefined || download === undefined) return false
          // Pieces between the head and the position (its share of the file, less two) not there yet.
          const before = Math.floor((mine / c.seconds) * (download.pieces ?? 0)) - 2
          const missingBefore = Array.from({ length: Math.max(0, before - 1) }, (_, i) => i + 1).filter(
            (piece) => !verified.has(piece),
          )
          playingWhileIncomplete = {
            afterJoinMs: Math.round(performance.now() - joinedAt),
            piecesDone: download.piecesDone,
            pieces: download.pieces,
            errorMs: Math.abs(mine - ref) * 1000,
            missingBefore,
          }
          return true
        },
        'the joiner to play while its download is incomplete',
        { timeoutMs: 30_000, intervalMs: 50 },
      ).catch((err: Error) => {
        const state = { loads: j.loads, download: j.swarm.get(cid), lastMapping: j.mappings.at(-1) }
        throw new Error(`${err.message}: ${JSON.stringify(state)}`)
      })
      console.log(`${c.what}: joiner playing with ${JSON.stringify(playingWhileIncomplete)}`)
      assert.ok(playingWhileIncomplete !== undefined)
      // The pieces the reader waits for go to the head of the host's queue (not behind a deep
      // pipeline of rarest-first requests): playing starts long before half the song is there.
      assert.ok(
        playingWhileIncomplete.pieces !== undefined &&
          playingWhileIncomplete.piecesDone <= playingWhileIncomplete.pieces / 2,
        `playing with ${playingWhileIncomplete.piecesDone} of ${playingWhileIncomplete.pieces} pieces`,
      )
      assert.ok(
        playingWhileIncomplete.errorMs < 20,
        `playing at the party's position (${playingWhileIncomplete.errorMs} ms off)`,
      )
      if (c.fromPosition) {
        // It started at the position, not from the file's start: pieces before it had not arrived.
        assert.ok(
          playingWhileIncomplete.missingBefore.length > 0,
          'playing with every piece before the position in',
        )
      }
      assert.equal(j.loads[0]?.fromDisk, false)
    })
  })
}
