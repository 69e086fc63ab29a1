// Access control of the local API: token, Host allowlist (DNS rebinding), Origin on mutations and WebSocket upgrades, bad JSON, path traversal.
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { WebSocket } from 'ws'
import { waitFor } from '../helpers/wait.ts'
import { auth, rawRequest, SECRET_TEXT, startTestApi, type TestApi } from './fixtures.ts'

/** Opens a WebSocket and reports how the server answered the upgrade. */
function upgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.on('open', () => {
      ws.close()
      resolve({ status: 101, body: '' })
    })
    ws.on('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (c: Buffer) => {
        body += c.toString()
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    ws.on('error', (err) => reject(err))
  })
}

describe('API access control', () => {
  let api: TestApi
  let host: string
  before(async () => {
    api = await startTestApi()
    host = `127.0.0.1:${api.port}`
  })
  after(() => api.close())

  it('refuses every /api route without a token, with a JSON error', async () => {
    for (const path of [
      '/api/status',
      '/api/peers',
      '/api/library',
      `/api/songs/${api.songs[0].cid}/stream`,
    ]) {
      const res = await rawRequest(api.port, path)
      assert.equal(res.status, 401, path)
      assert.equal(res.json().error?.code, 'UNAUTHORIZED', path)
      assert.match(String(res.headers['content-type']), /application\/json/)
    }
  })

  it('refuses a wrong token, in the header or the query', async () => {
    const wrong = `${api.token.slice(0, -1)}x` // same length: only the comparison can catch it
    assert.equal((await rawRequest(api.port, '/api/status', { headers: auth(wrong) })).status, 401)
    assert.equal((await rawRequest(api.port, '/api/status', { headers: auth('short') })).status, 401)
    assert.equal((await rawRequest(api.port, `/api/status?token=${wrong}`)).status, 401)
    assert.equal(
      (await rawRequest(api.port, '/api/status', { headers: { authorization: api.token } })).status,
      401,
    )
  })

  it('accepts the token as a Bearer header or as ?token=', async () => {
    const byHeader = await rawRequest(api.port, '/api/status', { headers: auth(api.token) })
    assert.equal(byHeader.status, 200)
    assert.equal(byHeader.json().peerId, '12D3KooWTestPeer')
    const byQuery = await rawRequest(api.port, `/api/status?token=${api.token}`)
    assert.equal(byQuery.status, 200)
  })

  it('refuses foreign Host headers (DNS rebinding), even with the right token', async () => {
    for (const foreign of [
      'evil.example',
      `evil.example:${api.port}`,
      '127.0.0.1',
      `127.0.0.2:${api.port}`,
    ]) {
      const res = await rawRequest(api.port, '/api/status', {
        headers: { ...auth(api.token), host: foreign },
      })
      assert.equal(res.status, 403, `Host ${foreign}`)
      assert.equal(res.json().error?.code, 'HOST_NOT_ALLOWED')
    }
    for (const ok of [`localhost:${api.port}`, `[::1]:${api.port}`, `LOCALHOST:${api.port}`]) {
      const res = await rawRequest(api.port, '/api/status', { headers: { ...auth(api.token), host: ok } })
      assert.equal(res.status, 200, `Host ${ok}`)
    }
  })

  it('refuses mutations from a foreign Origin, allows same-origin and origin-less clients', async () => {
    const post = (origin?: string) =>
      rawRequest(api.port, '/api/library/rescan', {
        method: 'POST',
        headers: { ...auth(api.token), 'content-type': 'application/json', ...(origin ? { origin } : {}) },
        body: '{}',
      })
    for (const origin of [
      'http://evil.example',
      `http://evil.example:${api.port}`,
      'null',
      `https://${host}`,
    ]) {
      const res = await post(origin)
      assert.equal(res.status, 403, origin)
      assert.equal(res.json().error?.code, 'ORIGIN_NOT_ALLOWED')
    }
    const before = api.scans()
    assert.equal((await post(`http://${host}`)).status, 202)
    assert.equal((await post(`http://localhost:${api.port}`)).status, 202)
    assert.equal((await post()).status, 202)
    await waitFor(() => api.scans() > before, 'the accepted requests to rescan')
  })

  it('refuses WebSocket upgrades from a foreign Origin or without a token', async () => {
    const url = `ws://${host}/api/events?token=${api.token}`
    const foreign = await upgrade(url, { origin: 'http://evil.example' })
    assert.equal(foreign.status, 403)
    assert.match(foreign.body, /ORIGIN_NOT_ALLOWED/)
    const noToken = await upgrade(`ws://${host}/api/events`, { origin: `http://${host}` })
    assert.equal(noToken.status, 401)
    const foreignHost = await upgrade(url, { host: 'evil.example', origin: 'http://evil.example' })
    assert.equal(foreignHost.status, 403)
    assert.equal((await upgrade(url, { origin: `http://${host}` })).status, 101)
  })

  it('answers malformed JSON with 400 and a clear error', async () => {
    for (const body of ['{"oops', '[1,2', 'not json']) {
      const res = await rawRequest(api.port, '/api/library/rescan', {
        method: 'POST',
        headers: { ...auth(api.token), 'content-type': 'application/json' },
        body,
      })
      assert.equal(res.status, 400, body)
      assert.equal(res.json().error?.code, 'BAD_JSON')
      assert.match(res.json().error?.message ?? '', /not valid JSON/)
    }
    const wrongShape = await rawRequest(api.port, '/api/library/rescan', {
      method: 'POST',
      headers: { ...auth(api.token), 'content-type': 'application/json' },
      body: '{"folder":"/etc"}',
    })
    assert.equal(wrongShape.status, 400)
    assert.equal(wrongShape.json().error?.code, 'INVALID_INPUT')
  })

  it('rejects path traversal in song ids, however encoded, and never reads outside the library', async () => {
    const attempts = [
      '/api/songs/../../etc/passwd',
      '/api/songs/../secret.txt/stream',
      '/api/songs/..%2f..%2fsecret.txt/stream',
      '/api/songs/..%2F..%2Fetc%2Fpasswd',
      '/api/songs/%2e%2e%2fsecret.txt/stream',
      '/api/songs/%2e%2e/stream',
      '/api/songs/%252e%252e%252fsecret.txt/stream',
      '/api/songs/..%5c..%5csecret.txt/stream',
      '/api/songs/..\\..\\secret.txt/stream',
      '/api/songs/secret.txt/stream',
      '/api/songs/%00/stream',
      `/api/songs/${'b'.repeat(400)}/stream`,
      '/api/songs/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG/stream', // a CID, but not a Tutti song id
    ]
    for (const path of attempts) {
      const res = await rawRequest(api.port, path, { headers: auth(api.token) })
      assert.equal(res.status, 400, `${path} → ${res.status} ${res.body.toString()}`)
      assert.ok(res.json().error?.code, path)
      assert.ok(!res.body.toString().includes(SECRET_TEXT), path)
    }
    assert.deepEqual(api.reads, [], 'no read reached the song source')
  })

  it('answers 404 for a well-formed song id that is not in the library', async () => {
    const unknown = 'bafyreigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
    const res = await rawRequest(api.port, `/api/songs/${unknown}/stream`, { headers: auth(api.token) })
    assert.equal(res.status, 404)
    assert.equal(res.json().error?.code, 'NOT_FOUND')
  })

  it('answers unknown routes with a JSON 404', async () => {
    const res = await rawRequest(api.port, '/api/nope', { headers: auth(api.token) })
    assert.equal(res.status, 404)
    assert.equal(res.json().error?.code, 'NOT_FOUND')
  })

  it('sends hardening headers', async () => {
    const res = await rawRequest(api.port, '/api/status', { headers: auth(api.token) })
    assert.equal(res.headers['referrer-policy'], 'no-referrer')
    assert.equal(res.headers['x-content-type-options'], 'nosniff')
    assert.equal(res.headers['cache-control'], 'no-store')
    assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/)
  })
})

describe('web UI shell', () => {
  let api: TestApi
  before(async () => {
    const { mkdtemp } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const webRoot = await mkdtemp(join(tmpdir(), 'tutti-web-'))
    await mkdir(join(webRoot, 'assets'))
    await writeFile(join(webRoot, 'index.html'), '<!doctype html><title>Tutti</title><div id="root"></div>')
    await writeFile(join(webRoot, 'assets', 'app-abc123.js'), 'console.log(1)')
    api = await startTestApi({ webRoot })
  })
  after(() => api.close())

  it('loads the HTML shell and assets without a token (they hold no data), but not from a foreign Host', async () => {
    const page = await rawRequest(api.port, '/')
    assert.equal(page.status, 200)
    assert.match(page.body.toString(), /<title>Tutti<\/title>/)
    assert.equal(page.headers['cache-control'], 'no-cache')
    const asset = await rawRequest(api.port, '/assets/app-abc123.js')
    assert.equal(asset.status, 200)
    assert.match(String(asset.headers['cache-control']), /immutable/)
    const rebound = await rawRequest(api.port, '/', { headers: { host: 'evil.example' } })
    assert.equal(rebound.status, 403)
    const speaker = await rawRequest(api.port, '/speaker')
    assert.equal(speaker.status, 200, 'app pages with their own path get the shell')
    assert.match(speaker.body.toString(), /<title>Tutti<\/title>/)
    assert.equal((await rawRequest(api.port, '/missing.png')).status, 404)
    const apiMiss = await rawRequest(api.port, '/api/nothing-here', { headers: auth(api.token) })
    assert.equal(apiMiss.json().error?.code, 'NOT_FOUND')
    const traversal = await rawRequest(api.port, '/assets/..%2f..%2fsecret.txt')
    assert.equal(traversal.status, 400)
    assert.ok(!traversal.body.toString().includes(SECRET_TEXT))
  })
})
