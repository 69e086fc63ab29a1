// A member who joins mid-song without the song on disk fetches it through the swarm from the party and plays it within 2 ms of the host (its clock offset by seconds and drifting), from verified bytes identical to the host's file.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { hashFile } from '../../src/library/content-id.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { createPartyService, type PartyService } from '../../src/party/service.ts'
import { createPartySongLoader } from '../../src/party/song-loader.ts'
import { decodeAudioFile } from '../../src/playback/decode.ts'
import { createHeadlessPlayer, type HeadlessPlayer } from '../../src/playback/headless-player.ts'
import type { PlayheadMapping } from '../../src/playback/renderer.ts'
import { wavHeader } from '../../src/playback/wav.ts'
import { type Clock, monotonicClock } from '../../src/shared/clock.ts'
import { mulberry32 } from '../../src/shared/random.ts'
import { createSwarm, type Swarm } from '../../src/swarm/index.ts'
import { waitFor } from '../helpers/wait.ts'
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

describe('mid-song join while the song is still arriving', { timeout: 120_000 }, () => {
  let host: Member | undefined
  let joiner: Member | undefined
  let songDir: string

  after(async () => {
    await stopMembers(joiner, host)
    await rm(songDir, { recursive: true, force: true })
  })

  it('a joiner plays the song (44.1 kHz WAV, resampled) from the party position long before the whole file is there', async () => {
    songDir = await mkdtemp(join(tmpdir(), 'tutti-sync-stream-song-'))
    const songPath = await writeNoiseSong(songDir, 44_100)
    // The host's uplink carries the 7.9 MB song in ~30 s; the audio at the join position needs well under a second of it.
    host = await makeMember('host', 0, 0, 256 * 1024)
    joiner = await makeMember('joiner', -3_100, 120)
    const { cid, manifest } = await hashFile(songPath)
    host.library.add(songPath, cid, manifest).durationSec = SONG_SECONDS
    const { invite } = await host.party.create({ name: 'Join while it streams' })
    await host.party.command({
      type: 'enqueue',
      song: { cid, title: 'Noise', artist: 'Test', durationSec: SONG_SECONDS },
    })
    await host.party.command({ type: 'play' })
    const entryId = host.party.status()?.queue[0]?.entryId ?? assert.fail('queued')
    const h = host
    await waitFor(() => (positionAt(h, monotonicClock.now() - 200, entryId) ?? 0) > 20, 'the host 20 s in', {
      timeoutMs: 40_000,
    })
    await joiner.party.join(invite)
    const j = joiner
    let playingWhileIncomplete: { piecesDone: number; pieces?: number; errorMs: number } | undefined
    await waitFor(
      () => {
        const T = monotonicClock.now() - 200
        const ref = positionAt(h, T, entryId)
        const mine = positionAt(j, T, entryId)
        const download = j.swarm.get(cid)
        if (ref === undefined || mine === undefined || download === undefined || download.state === 'done')
          return false
        playingWhileIncomplete = {
          piecesDone: download.piecesDone,
          pieces: download.pieces,
          errorMs: Math.abs(mine - ref) * 1000,
        }
        return true
      },
      'the joiner to play while its download is incomplete',
      { timeoutMs: 20_000, intervalMs: 50 },
    )
    console.log(`joiner playing with ${JSON.stringify(playingWhileIncomplete)}`)
    assert.ok(playingWhileIncomplete !== undefined)
    assert.ok(
      playingWhileIncomplete.pieces === undefined ||
        playingWhileIncomplete.piecesDone < playingWhileIncomplete.pieces,
    )
    assert.ok(
      playingWhileIncomplete.errorMs < 20,
      `playing at the party's position (${playingWhileIncomplete.errorMs} ms off)`,
    )
    assert.equal(j.loads[0]?.fromDisk, false)
  })
})
