// Library, node and event-stream routes: filtering, rejected files, rescan, status, peers, and events reaching a WebSocket client.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { WebSocket } from 'ws'
import { loadOrCreateApiToken } from '../../src/api/token.ts'
import type { ApiEventFrame } from '../../src/api/types.ts'
import { waitFor } from '../helpers/wait.ts'
import { auth, rawRequest, startTestApi, type TestApi } from './fixtures.ts'

describe('library and node routes', () => {
  let api: TestApi
  before(async () => {
    api = await startTestApi()
  })
  after(() => api.close())

  const get = (path: string) => rawRequest(api.port, path, { headers: auth(api.token) })

  it('lists the library sorted by artist, album, title, and filters it', async () => {
    const all = (await get('/api/library')).json() as { songs: Array<{ title: string }>; total: number }
    assert.deepEqual(
      all.songs.map((s) => s.title),
      ['Morning Light', 'Night Drive', 'Evening Tide'],
    )
    assert.equal(all.total, 3)
    const filtered = (await get('/api/library?q=ada%20second')).json() as { songs: Array<{ title: string }> }
    assert.deepEqual(
      filtered.songs.map((s) => s.title),
      ['Night Drive'],
    )
    const byFile = (await get('/api/library?q=TWO.WAV')).json() as { songs: Array<{ title: string }> }
    assert.deepEqual(
      byFile.songs.map((s) => s.title),
      ['Evening Tide'],
    )
    const accents = (await get(`/api/library?q=${encodeURIComponent('MÓRNING')}`)).json() as {
      songs: Array<{ title: string }>
    }
    assert.deepEqual(
      accents.songs.map((s) => s.title),
      ['Morning Light'],
      'case and accents do not matter',
    )
    const tooLong = await get(`/api/library?q=${'x'.repeat(600)}`)
    assert.equal(tooLong.status, 400)
    assert.match(tooLong.json().error?.message ?? '', /query q/)
  })

  it('lists rejected files with reasons', async () => {
    const body = (await get('/api/library/rejected')).json() as {
      rejected: Array<{ path: string; reason: string }>
    }
    assert.equal(body.rejected.length, 1)
    assert.match(body.rejected[0].path, /broken\.mp3$/)
    assert.ok(body.rejected[0].reason.length > 0)
  })

  it('reports status and peers', async () => {
    const status = (await get('/api/status')).json()
    assert.equal(status.peerId, '12D3KooWTestPeer')
    assert.equal(status.songs, 3)
    const peers = (await get('/api/peers')).json() as { peers: Array<{ rttMs: number }> }
    assert.equal(peers.peers[0].rttMs, 3.5)
  })
})

describe('GET /api/events', () => {
  let api: TestApi
  before(async () => {
    api = await startTestApi()
  })
  after(() => api.close())

  it('opens with a status frame, then forwards bus events and scan progress', async () => {
    const frames: ApiEventFrame[] = []
    const ws = new WebSocket(`ws://127.0.0.1:${api.port}/api/events?token=${api.token}`)
    ws.on('message', (data) => frames.push(JSON.parse(String(data)) as ApiEventFrame))
    await new Promise((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
    })
    await waitFor(() => frames.length > 0, 'the first frame')
    assert.equal(frames[0].type, 'status')

    const song = api.songs[0]
    api.events.emit('song:added', song)
    api.events.emit('peer:connected', { peerId: 'QmPeer', addresses: [], connected: true })
    await waitFor(() => frames.some((f) => f.type === 'peer:connected'), 'peer:connected')
    const added = frames.find((f) => f.type === 'song:added')
    assert.equal(added?.type === 'song:added' && added.payload.cid, song.cid)

    // A rescan started over HTTP reports its progress over the stream (the node bridges library → bus).
    const off = api.library.on('scan:done', (p) => api.events.emit('scan:done', p))
    const res = await rawRequest(api.port, '/api/library/rescan', {
      method: 'POST',
      headers: { ...auth(api.token), 'content-type': 'application/json' },
      body: '{}',
    })
    assert.equal(res.status, 202)
    await waitFor(() => frames.some((f) => f.type === 'scan:done'), 'scan:done')
    off()
    ws.close()
  })

  it('stops forwarding to a client once it disconnected, and closes clients on stop', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${api.port}/api/events?token=${api.token}`)
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
    await new Promise((resolve) => ws.once('message', resolve))
    await api.close()
    assert.ok([1001, 1005, 1006].includes(await closed))
  })
})

describe('loadOrCreateApiToken', () => {
  it('creates a 32-byte base64url token with mode 0600 and returns it again on the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tutti-token-'))
    const token = await loadOrCreateApiToken(dir)
    assert.match(token, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(Buffer.from(token, 'base64url').length, 32)
    assert.equal((await stat(join(dir, 'api-token'))).mode & 0o777, 0o600)
    assert.equal(await loadOrCreateApiToken(dir), token)
    const other = await loadOrCreateApiToken(await mkdtemp(join(tmpdir(), 'tutti-token-')))
    assert.notEqual(other, token, 'each install has its own token')
  })

  it('replaces a damaged token file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tutti-token-'))
    await writeFile(join(dir, 'api-token'), 'garbage\n', { mode: 0o644 })
    const token = await loadOrCreateApiToken(dir)
    assert.match(token, /^[A-Za-z0-9_-]{43}$/)
    assert.equal((await readFile(join(dir, 'api-token'), 'utf8')).trim(), token)
    assert.equal((await stat(join(dir, 'api-token'))).mode & 0o777, 0o600)
  })
})
