// The party service drives the node's player from the committed timeline: a start is handed over ahead of its effective time, a pause not before it; prefetch asks the swarm for upcoming songs with the members as providers (the song playing now too, unless a player is there to fetch it, head first).

import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { createPartyService, type PartyService } from '../../src/party/service.ts'
import type { QueueEntry, Timeline } from '../../src/playback/timeline.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'

interface Call {
  at: number
  timeline: Timeline | undefined
  queue: readonly QueueEntry[]
}

describe('player driving and prefetch', { timeout: 60_000 }, () => {
  let libp2p: TuttiLibp2p
  let party: PartyService
  const calls: Call[] = []
  const downloads: Array<{ cid: string; providers?: string[] }> = []

  before(async () => {
    const key = await generateKeyPair('Ed25519')
    libp2p = await createTuttiLibp2p({ privateKey: key, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
    party = createPartyService(
      { dataDir: mkdtempSync(join(tmpdir(), 'tutti-party-')), displayName: 'Host' },
      {
        libp2p,
        clock: monotonicClock,
        privateKey: key,
        library: { get: (cid: string) => (cid === 'bafylocal' ? ({ cid } as never) : undefined) },
        swarm: { startDownload: (cid, options) => downloads.push({ cid, providers: options?.providers }) },
        player: {
          setTimeline: (timeline, queue) => calls.push({ at: monotonicClock.now(), timeline, queue }),
        },
      },
    )
    await party.start()
  })

  after(async () => {
    await party?.stop()
    await libp2p?.stop()
  })

  it('hands a start over early and a pause exactly when it takes effect', async () => {
    await party.create({ name: 'Driving' })
    await party.command({
      type: 'enqueue',
      song: { cid: 'bafylocal', title: 'A', artist: 'B', durationSec: 30 },
    })
    await party.command({
      type: 'enqueue',
      song: { cid: 'bafyremote', title: 'C', artist: 'D', durationSec: 30 },
    })
    await party.command({ type: 'play' })
    const start = party.status()?.timeline
    assert.equal(start?.paused, false)
    const anchor = start?.anchorPartyTime ?? 0
    await waitFor(
      () => calls.some((c) => c.timeline?.paused === false),
      'the player got the playing timeline',
    )
    const startCall = calls.find((c) => c.timeline?.paused === false) as Call
    assert.equal(startCall.timeline?.anchorPartyTime, anchor)
    assert.equal(startCall.queue.length, 2)
    // Gapless boundaries in frames: 30 s at 48 kHz.
    assert.deepEqual(startCall.queue[0].duration, { frames: 1_440_000, sampleRate: 48_000 })

    await waitFor(() => party.partyTime() > anchor + 50, 'play in force')
    await party.command({ type: 'pause' })
    const pause = party.status()?.timeline
    assert.equal(pause?.paused, true)
    await waitFor(() => calls.at(-1)?.timeline?.paused === true, 'the player got the pause')
    const pauseCall = calls.at(-1) as Call
    // Never before the pause is due (timers may round by a millisecond).
    assert.ok(pauseCall.at >= (pause?.anchorPartyTime ?? 0) - 2, 'pause handed over early')
  })

  it('prefetches upcoming songs it does not have', () => {
    assert.deepEqual(
      downloads.map((d) => d.cid),
      ['bafyremote'],
    )
  })

  it('a player attached later gets the timeline in force at once', async () => {
    const late: Array<Timeline | undefined> = []
    party.attachPlayer({ setTimeline: (timeline) => late.push(timeline) })
    assert.equal(late.length, 1)
    assert.equal(late[0]?.paused, true)
    assert.equal(late[0]?.cid, 'bafylocal')
    party.attachPlayer({
      setTimeline: (timeline, queue) => calls.push({ at: monotonicClock.now(), timeline, queue }),
    })
  })

  it('stops the player when the party ends', async () => {
    await party.leave()
    assert.equal(calls.at(-1)?.timeline, undefined)
  })
})

describe('prefetch of the song playing now', { timeout: 60_000 }, () => {
  for (const withPlayer of [false, true]) {
    it(
      withPlayer ? 'is left to the player when one is attached' : 'happens when no player is attached',
      async () => {
        const key = await generateKeyPair('Ed25519')
        const libp2p = await createTuttiLibp2p({
          privateKey: key,
          mdns: false,
          listen: ['/ip4/127.0.0.1/tcp/0'],
        })
        const downloads: string[] = []
        const party = createPartyService(
          { dataDir: mkdtempSync(join(tmpdir(), 'tutti-party-')), displayName: 'Host' },
          {
            libp2p,
            clock: monotonicClock,
            privateKey: key,
            library: { get: () => undefined },
            swarm: { startDownload: (cid) => downloads.push(cid) },
            ...(withPlayer ? { player: { setTimeline: () => {} } } : {}),
          },
        )
        try {
          await party.start()
          await party.create({ name: 'Prefetch' })
          for (const cid of ['bafynow', 'bafynext'])
            await party.command({ type: 'enqueue', song: { cid, title: cid, artist: 'A', durationSec: 30 } })
          await party.command({ type: 'play' })
          await waitFor(() => downloads.includes('bafynext'), 'the next song prefetched')
          assert.equal(downloads.includes('bafynow'), !withPlayer)
        } finally {
          await party.stop()
          await libp2p.stop()
        }
      },
    )
  }
})

describe('party song loader', () => {
  it('plays library songs from disk and fetches the rest from the party members', async () => {
    const { createPartySongLoader } = await import('../../src/party/song-loader.ts')
    const asked: Array<{ cid: string; providers?: string[] }> = []
    const decoded: string[] = []
    const load = createPartySongLoader({
      library: { get: (cid) => (cid === 'mine' ? ({ cid, path: '/music/mine.flac' } as never) : undefined) },
      swarm: {
        download: async (cid, options) => {
          asked.push({ cid, providers: options?.providers })
          if (cid === 'nowhere') throw new Error('no providers')
          return { path: `/downloads/${cid}` }
        },
      },
      providers: () => ['peerA', 'peerB'],
      decode: async (path) => {
        decoded.push(path)
        return { sampleRate: 48_000, channels: [new Float32Array(1)], frames: 1, sourceSampleRate: 48_000 }
      },
    })
    assert.ok(await load('mine'))
    assert.ok(await load('theirs'))
    assert.equal(
      await load('nowhere'),
      undefined,
      'a song that cannot arrive stays silent instead of failing the player',
    )
    assert.deepEqual(decoded, ['/music/mine.flac', '/downloads/theirs'])
    assert.deepEqual(asked, [
      { cid: 'theirs', providers: ['peerA', 'peerB'] },
      { cid: 'nowhere', providers: ['peerA', 'peerB'] },
    ])
  })
})
