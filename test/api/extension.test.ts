// Extending the API: a module's own route table rows (validated inputs, TuttiError → status, 503 without its component), HEAD on streams, and --expose-lan binding.
import assert from 'node:assert/strict'
import { networkInterfaces } from 'node:os'
import { after, before, describe, it } from 'node:test'
import { z } from 'zod'
import { httpRoute } from '../../src/api/route.ts'
import { API_ROUTES } from '../../src/api/routes.ts'
import { createApiServer } from '../../src/api/server.ts'
import type { ApiComponents } from '../../src/api/types.ts'
import { TuttiError } from '../../src/shared/errors.ts'
import { auth, rawRequest, startTestApi, type TestApi } from './fixtures.ts'

class TeapotError extends TuttiError {
  constructor() {
    super('TEAPOT', 'this node is a teapot', 418)
  }
}

const extraRoutes = [
  httpRoute({
    method: 'POST',
    url: '/api/echo/:n',
    schema: {
      params: z.object({ n: z.coerce.number().int().min(1).max(10) }),
      body: z.object({ words: z.array(z.string().max(20)).max(5) }),
    },
    handler: ({ params, body }) => ({ echoed: body.words.slice(0, params.n) }),
  }),
  httpRoute({ method: 'GET', url: '/api/teapot', handler: () => Promise.reject(new TeapotError()) }),
  httpRoute({
    method: 'GET',
    url: '/api/crash',
    handler: () => {
      throw new Error('secret internals /home/someone')
    },
  }),
  httpRoute({
    method: 'GET',
    url: '/api/swarm-thing',
    requires: 'swarm' as keyof ApiComponents,
    handler: () => 'x',
  }),
]

describe('a module adding routes', () => {
  let base: TestApi
  let port: number
  let stop: () => Promise<void>
  before(async () => {
    base = await startTestApi()
    const components: ApiComponents = {
      library: base.library,
      songs: { stat: () => undefined, read: async function* () {} },
      node: { status: () => ({}) as never, peers: () => [] },
      events: base.events,
    }
    const server = createApiServer(
      { port: 0, token: base.token, routes: [...API_ROUTES, ...extraRoutes] },
      components,
    )
    port = (await server.start()).port
    stop = () => server.stop()
  })
  after(async () => {
    await stop()
    await base.close()
  })

  const post = (path: string, body: string) =>
    rawRequest(port, path, {
      method: 'POST',
      headers: { ...auth(base.token), 'content-type': 'application/json' },
      body,
    })

  it('gets validated, typed inputs', async () => {
    const ok = await post('/api/echo/2', '{"words":["a","b","c"]}')
    assert.equal(ok.status, 200)
    assert.deepEqual(ok.json(), { echoed: ['a', 'b'] })
    const badParam = await post('/api/echo/99', '{"words":[]}')
    assert.equal(badParam.status, 400)
    assert.match(badParam.json().error?.message ?? '', /invalid path n/)
    const badBody = await post('/api/echo/1', '{"words":[1]}')
    assert.equal(badBody.status, 400)
    assert.match(badBody.json().error?.message ?? '', /invalid body words\.0/)
  })

  it('maps TuttiErrors to their status and hides internals of unexpected errors', async () => {
    const teapot = await rawRequest(port, '/api/teapot', { headers: auth(base.token) })
    assert.equal(teapot.status, 418)
    assert.deepEqual(teapot.json(), { error: { code: 'TEAPOT', message: 'this node is a teapot' } })
    const crash = await rawRequest(port, '/api/crash', { headers: auth(base.token) })
    assert.equal(crash.status, 500)
    assert.equal(crash.json().error?.code, 'INTERNAL')
    assert.ok(!crash.body.toString().includes('/home/someone'))
  })

  it('answers 503 while the component the route needs is absent', async () => {
    const res = await rawRequest(port, '/api/swarm-thing', { headers: auth(base.token) })
    assert.equal(res.status, 503)
    assert.equal(res.json().error?.code, 'FEATURE_UNAVAILABLE')
  })

  it('answers HEAD on a stream with its headers and no body', async () => {
    const song = base.songs[0]
    const res = await rawRequest(base.port, `/api/songs/${song.cid}/stream`, {
      method: 'HEAD',
      headers: { ...auth(base.token), range: 'bytes=0-9' },
    })
    assert.equal(res.status, 206)
    assert.equal(res.headers['content-length'], '10')
    assert.equal(res.body.length, 0)
  })
})

describe('scoped credentials (e.g. party speaker tokens)', () => {
  let base: TestApi
  let port: number
  let stop: () => Promise<void>
  const credentials: NonNullable<ApiComponents['credentials']> = []
  before(async () => {
    base = await startTestApi()
    const server = createApiServer(
      { port: 0, token: base.token },
      {
        library: base.library,
        songs: {
          stat: (cid) => (base.library.get(cid) ? { size: 3, mime: 'audio/wav' } : undefined),
          read: async function* () {
            yield new Uint8Array([1, 2, 3])
          },
        },
        node: { status: () => ({ peerId: 'x' }) as never, peers: () => [] },
        events: base.events,
        credentials,
      },
    )
    port = (await server.start()).port
    stop = () => server.stop()
  })
  after(async () => {
    await stop()
    await base.close()
  })

  it('opens only the routes the credential allows, and only while it is registered', async () => {
    const stream = `/api/songs/${base.songs[0].cid}/stream`
    assert.equal((await rawRequest(port, `${stream}?token=spk_1`)).status, 401, 'unknown before registration')
    credentials.push({
      allows: (token, method, path) =>
        token === 'spk_1' && method === 'GET' && path.startsWith('/api/songs/'),
    })
    assert.equal((await rawRequest(port, `${stream}?token=spk_1`)).status, 200)
    assert.equal((await rawRequest(port, stream, { headers: auth('spk_1') })).status, 200)
    assert.equal((await rawRequest(port, '/api/status', { headers: auth('spk_1') })).status, 401)
    assert.equal((await rawRequest(port, '/api/library', { headers: auth('spk_1') })).status, 401)
    assert.equal((await rawRequest(port, `${stream}?token=spk_2`)).status, 401)
    assert.equal(
      (await rawRequest(port, '/api/songs/..%2f..%2fetc%2fpasswd/stream', { headers: auth('spk_1') })).status,
      400,
      'traversal is refused before any credential is asked',
    )
    credentials.length = 0
    assert.equal((await rawRequest(port, `${stream}?token=spk_1`)).status, 401, 'revoked')
  })
})

describe('start-up', () => {
  it('says clearly when the port is taken', async () => {
    const base = await startTestApi()
    const second = createApiServer(
      { port: base.port, token: 'x' },
      {
        library: base.library,
        songs: { stat: () => undefined, read: async function* () {} },
        node: { status: () => ({}) as never, peers: () => [] },
        events: base.events,
      },
    )
    try {
      await assert.rejects(
        second.start(),
        (err: TuttiError) => err.code === 'API_PORT_IN_USE' && /--api-port/.test(err.message),
      )
    } finally {
      await second.stop()
      await base.close()
    }
  })
})

describe('--expose-lan', () => {
  const lanAddress = Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry !== undefined && !entry.internal && entry.family === 'IPv4')?.address

  it('binds every interface and answers to the LAN address as Host', {
    skip: lanAddress === undefined ? 'no LAN IPv4 address' : undefined,
  }, async () => {
    const base = await startTestApi()
    const server = createApiServer(
      { port: 0, token: base.token, exposeLan: true },
      {
        library: base.library,
        songs: { stat: () => undefined, read: async function* () {} },
        node: { status: () => ({ peerId: 'x' }) as never, peers: () => [] },
        events: base.events,
      },
    )
    try {
      const { port } = await server.start()
      const viaLan = await rawRequest(port, '/api/status', {
        headers: { ...auth(base.token), host: `${lanAddress}:${port}` },
      })
      assert.equal(viaLan.status, 200)
      assert.equal(
        (await rawRequest(port, '/api/status', { headers: { host: `${lanAddress}:${port}` } })).status,
        401,
      )
      assert.equal(
        (
          await rawRequest(port, '/api/status', {
            headers: { ...auth(base.token), host: `evil.example:${port}` },
          })
        ).status,
        403,
      )
    } finally {
      await server.stop()
      await base.close()
    }
  })
})
