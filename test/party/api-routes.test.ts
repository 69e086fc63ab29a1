// The party API routes over HTTP: create, status, commands with refusals as errors, speaker token and its timeline + clock routes, 503 without the component.

import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { partyRoutes } from '../../src/api/routes/party.ts'
import { createApiServer } from '../../src/api/server.ts'
import type { ApiComponents } from '../../src/api/types.ts'
import type { Library } from '../../src/library/types.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { createPartyService, type PartyService } from '../../src/party/service.ts'
import { speakerTokenAllows } from '../../src/party/speaker-token.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { TypedEmitter } from '../../src/shared/events.ts'

const TOKEN = 'test-token-0123456789abcdefghijklmnopqrstuvw'

function baseComponents(): ApiComponents {
  return {
    library: { list: () => [], get: () => undefined } as unknown as Library,
    songs: { stat: () => undefined, read: () => (async function* () {})() },
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
    const api = createApiServer({ port: 0, token: TOKEN, webRoot: '/nonexistent', routes: partyRoutes }, {
      ...baseComponents(),
      party,
    } as ApiComponents)
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

  it('leaving ends the party', async () => {
    assert.equal((await call(url, 'POST', '/api/party/leave', {})).status, 200)
    assert.deepEqual((await call(url, 'GET', '/api/party')).body, { party: null })
  })
})
