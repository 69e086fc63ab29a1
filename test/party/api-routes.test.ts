// The party API routes over HTTP: create, status, commands with refusals as errors (set-host refused), speaker token
// and its timeline + clock routes, its scope (only the party's current and upcoming songs, nothing else), the
// loopback-only warning on speaker links, 503 without the component.

import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { partyRoutes } from '../../src/api/routes/party.ts'
import { songRoutes } from '../../src/api/routes/songs.ts'
import { createApiServer } from '../../src/api/server.ts'
import type { ApiComponents } from '../../src/api/types.ts'
import { manifestCid } from '../../src/library/content-id.ts'
import type { Library } from '../../src/library/types.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { createPartyService, type PartyService } from '../../src/party/service.ts'
import {
  LOOPBACK_SPEAKER_WARNING,
  speakerCredential,
  speakerLinkOrigin,
  speakerTokenAllows,
} from '../../src/party/speaker-token.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { TypedEmitter } from '../../src/shared/events.ts'
import { waitFor } from '../helpers/wait.ts'

const TOKEN = 'test-token-0123456789abcdefghijklmnopqrstuvw'

/** Real song ids (the song routes parse them): three songs this fake node can serve. */
const cids = await Promise.all(
  [1, 2, 3].map(async (n) =>
    (await manifestCid({ size: n, pieceSize: 65_536, pieceHashes: new Uint8Array(32).fill(n) })).toString(),
  ),
)
const SONG_BYTES = new Uint8Array([1, 2, 3, 4])

function baseComponents(): ApiComponents {
  return {
    library: { list: () => [], get: () => undefined } as unknown as Library,
    songs: {
      stat: (cid) => (cids.includes(cid) ? { size: SONG_BYTES.length, mime: 'audio/mpeg' } : undefined),
      read: (_cid, start, end) =>
        (async function* () {
          yield SONG_BYTES.slice(start, end + 1)
        })(),
    },
    node: {
      status: () => ({
        peerId: 'x',
        addresses: [],
        version: '0',
        uptimeSec: 0,
        connections: 0,
        songs: 0,
        rejected: 0,
        libraries: [],
      }),
      peers: () => [],
    },
    events: new TypedEmitter(),
  }
}

describe('party API routes', { timeout: 60_000 }, () => {
  let libp2p: TuttiLibp2p
  let party: PartyService
  let url: string
  let stopApi: () => Promise<void>
  let bareUrl: string
  let stopBare: () => Promise<void>

  const call = async (base: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown> & { error?: { message: string } },
    }
  }

  before(async () => {
    const key = await generateKeyPair('Ed25519')
    libp2p = await createTuttiLibp2p({ privateKey: key, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
    party = createPartyService(
      { dataDir: mkdtempSync(join(tmpdir(), 'tutti-party-')), displayName: 'Host' },
      { libp2p, clock: monotonicClock, privateKey: key },
    )
    await party.start()
    const api = createApiServer(
      { port: 0, token: TOKEN, webRoot: '/nonexistent', routes: [...partyRoutes, ...songRoutes] },
      { ...baseComponents(), party, credentials: [speakerCredential(party)] } as ApiComponents,
    )
    url = (await api.start()).url.replace(/\/$/, '')
    stopApi = () => api.stop()
    const bare = createApiServer(
      { port: 0, token: TOKEN, webRoot: '/nonexistent', routes: partyRoutes },
      baseComponents(),
    )
    bareUrl = (await bare.start()).url.replace(/\/$/, '')
    stopBare = () => bare.stop()
  })

  after(async () => {
    await stopApi?.()
    await stopBare?.()
    await party?.stop()
    await libp2p?.stop()
  })

  it('answers 503 when the node runs no party component', async () => {
    const r = await call(bareUrl, 'GET', '/api/party')
    assert.equal(r.status, 503)
  })

  it('creates a party, runs commands, and reports refusals as errors with their reason', async () => {
    assert.deepEqual((await call(url, 'GET', '/api/party')).body, { party: null })
    const created = await call(url, 'POST', '/api/party', {
      name: 'Friday',
      permissions: { mode: 'host-only' },
    })
    assert.equal(created.status, 200)
    assert.match(String(created.body.invite), /^tutti:\/\/join\//)
    assert.match(String(created.body.inviteQrSvg), /<svg/)

    const bad = await call(url, 'POST', '/api/party/commands', { command: { type: 'fly' } })
    assert.equal(bad.status, 400)
    // set-host is the elected leader's own proposal, never a command anyone submits.
    const claim = await call(url, 'POST', '/api/party/commands', {
      command: { type: 'set-host', peerId: libp2p.peerId.toString() },
    })
    assert.equal(claim.status, 400)
    assert.match(claim.body.error?.message ?? '', /only the elected leader/)
    const nothing = await call(url, 'POST', '/api/party/commands', { command: { type: 'play' } })
    assert.equal(nothing.status, 409)
    assert.match(nothing.body.error?.message ?? '', /queue is empty/)

    const song = { cid: 'bafyx', title: 'X', artist: 'Y', durationSec: 60 }
    const q = await call(url, 'POST', '/api/party/commands', { command: { type: 'enqueue', song } })
    assert.equal(q.status, 200)
    assert.equal((await call(url, 'POST', '/api/party/commands', { command: { type: 'play' } })).status, 200)
    const status = (await call(url, 'GET', '/api/party')).body.party as { queue: unknown[]; role: string }
    assert.equal(status.role, 'host')
    assert.equal(status.queue.length, 1)
    const twice = await call(url, 'POST', '/api/party', { name: 'Again' })
    assert.equal(twice.status, 409)
  })

  it('issues a speaker link whose token only opens the speaker routes', async () => {
    const r = await call(url, 'POST', '/api/party/speaker-token', { origin: 'http://192.168.1.5:8080' })
    assert.equal(r.status, 200)
    assert.match(String(r.body.url), /^http:\/\/192\.168\.1\.5:8080\/speaker#token=spk_/)
    assert.ok(party.isSpeakerToken(String(r.body.token)))
    assert.ok(!party.isSpeakerToken('spk_guess'))
    assert.ok(speakerTokenAllows('GET', '/api/party/speaker/state'))
    assert.ok(speakerTokenAllows('POST', '/api/party/speaker/clock'))
    assert.ok(!speakerTokenAllows('POST', '/api/party/commands'))
    assert.ok(!speakerTokenAllows('GET', '/api/library'))

    const state = await call(url, 'GET', '/api/party/speaker/state')
    const p = state.body.party as { queue: Array<{ cid: string }>; timeline: { paused: boolean } }
    assert.equal(p.queue[0].cid, 'bafyx')
    const clock = await call(url, 'POST', '/api/party/speaker/clock', { t0: 42 })
    assert.equal(clock.body.t0, 42)
    assert.ok(Math.abs(Number(clock.body.t1) - party.partyTime()) < 5_000)
  })

  it('a speaker link from an API on 127.0.0.1 only carries a warning to start with --expose-lan', async () => {
    // This test server listens on 127.0.0.1 (no --expose-lan): phones cannot open any link it makes.
    for (const body of [{}, { origin: 'http://192.168.1.5:8080' }]) {
      const r = await call(url, 'POST', '/api/party/speaker-token', body)
      assert.equal(r.status, 200)
      assert.equal(r.body.warning, LOOPBACK_SPEAKER_WARNING)
      assert.match(String(r.body.warning), /--expose-lan/)
    }
    // Exposed on the LAN: a loopback origin (the CLI, or a UI opened on 127.0.0.1) becomes the LAN address.
    const lan = { listening: '0.0.0.0', lanAddresses: ['192.168.1.5'] }
    assert.deepEqual(speakerLinkOrigin({ ...lan, hostHeader: '127.0.0.1:7070' }), {
      origin: 'http://192.168.1.5:7070',
    })
    assert.deepEqual(speakerLinkOrigin({ ...lan, requested: 'http://localhost:7070/' }), {
      origin: 'http://192.168.1.5:7070',
    })
    assert.deepEqual(speakerLinkOrigin({ ...lan, requested: 'http://tutti.local:7070' }), {
      origin: 'http://tutti.local:7070',
    })
    const noLan = speakerLinkOrigin({ listening: '::', lanAddresses: [], hostHeader: '[::1]:7070' })
    assert.match(noLan.warning ?? '', /no LAN address/)
  })

  it('a speaker token streams only the party’s current and upcoming songs, and opens no other route', async () => {
    const [first, second, stranger] = cids
    for (const cid of [first, second])
      await call(url, 'POST', '/api/party/commands', {
        command: { type: 'enqueue', song: { cid, title: cid, artist: 'A', durationSec: 60 } },
      })
    const issued = await call(url, 'POST', '/api/party/speaker-token', {})
    const speaker = String(issued.body.token)
    const get = async (path: string, method = 'GET') => {
      const res = await fetch(`${url}${path}${path.includes('?') ? '&' : '?'}token=${speaker}`, { method })
      return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()) }
    }
    const stream = (cid: string) => get(`/api/songs/${encodeURIComponent(cid)}/stream`)

    const queued = await stream(first)
    assert.equal(queued.status, 200)
    assert.deepEqual(queued.bytes, SONG_BYTES)
    assert.equal((await stream(second)).status, 200)
    assert.equal((await stream(stranger)).status, 401, 'a song not in the party queue')
    for (const [method, path] of [
      ['GET', `/api/songs/${first}`],
      ['GET', '/api/party'],
      ['GET', '/api/library'],
      ['GET', '/api/events'],
      ['GET', '/api/status'],
      ['POST', '/api/party/commands'],
      ['POST', '/api/party/speaker-token'],
    ])
      assert.equal((await get(path, method)).status, 401, `${method} ${path}`)
    // The install token still streams any song this node has.
    const owner = await fetch(`${url}/api/songs/${stranger}/stream`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    })
    assert.equal(owner.status, 200)

    // Once a song has played it is no longer the speaker's to fetch.
    await call(url, 'POST', '/api/party/commands', {
      command: { type: 'play', entryId: lastEntryId(second) },
    })
    await waitFor(() => party.status()?.nowPlaying.entry?.cid === second, 'the second song plays')
    assert.equal((await stream(first)).status, 401, 'a song already played')
    assert.equal((await stream(second)).status, 200)
  })

  const lastEntryId = (cid: string) =>
    party.status()?.queue.findLast((e) => e.cid === cid)?.entryId ?? assert.fail(`${cid} is not queued`)

  it('leaving ends the party', async () => {
    assert.equal((await call(url, 'POST', '/api/party/leave', {})).status, 200)
    assert.deepEqual((await call(url, 'GET', '/api/party')).body, { party: null })
  })
})
