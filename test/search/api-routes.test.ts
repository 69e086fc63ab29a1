// The search API routes over a real node pair: streamed search results (SSE), collected search, a peer's catalog, the party directory, reachability, 503 without the component.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { createDirectory, type Directory } from '../../src/directory/index.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'
import { startSearchApi } from './api-server.ts'
import { song } from './fake-library.ts'
import { connect, startNode, stopAll, type TestNode } from './network.ts'

const token = 'test-token-0123456789'
const nodes: TestNode[] = []
let directory: Directory
let url = ''
let bareUrl = ''
const servers: Array<{ stop(): Promise<void> }> = []

before(async () => {
  nodes.push(await startNode(), await startNode())
  nodes[1].library.add(song('Jolene', 'Dolly Parton', 'Jolene'))
  await connect(nodes[0], nodes[1])
  directory = createDirectory({ announceIntervalMs: 500 }, { libp2p: nodes[0].libp2p, clock: monotonicClock })
  directory.start()
  const server = await startSearchApi(nodes[0], token, { directory })
  const bare = await startSearchApi(nodes[0], token, { search: undefined })
  url = server.url
  bareUrl = bare.url
  servers.push(server, bare)
})
after(async () => {
  for (const s of servers) await s.stop()
  await directory.stop()
  await stopAll(nodes)
})

const auth = { authorization: `Bearer ${token}` }

test('GET /api/search/stream streams hits as Server-Sent Events, then the ranked results', async () => {
  // The stream runs for the whole search: long enough for a loaded machine (the answer is one hop away).
  const res = await fetch(`${url}/api/search/stream?q=jolene&ttl=2&timeoutMs=5000`, { headers: auth })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/)
  const body = await res.text()
  const events = body
    .trim()
    .split('\n\n')
    .map((chunk) => {
      const [event, data] = chunk.split('\n')
      return { event: event.replace('event: ', ''), data: JSON.parse(data.replace('data: ', '')) }
    })
  assert.equal(events[0].event, 'start')
  const hit = events.find((e) => e.event === 'hit')
  assert.equal(hit?.data.result.title, 'Jolene')
  assert.equal(hit?.data.provider.peerId, nodes[1].id)
  const done = events.at(-1)
  assert.equal(done?.event, 'done')
  assert.equal(done?.data.results[0].providers.length, 1)
})

test('POST /api/search collects; an empty query is a 400', async () => {
  const res = await fetch(`${url}/api/search`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    // POST waits for the whole search: long enough for a loaded machine (the answer is one hop away).
    body: JSON.stringify({ artist: 'parton', timeoutMs: 5_000 }),
  })
  assert.equal(res.status, 200)
  const body = (await res.json()) as { results: Array<{ title: string }> }
  assert.deepEqual(
    body.results.map((r) => r.title),
    ['Jolene'],
  )
  const empty = await fetch(`${url}/api/search/stream?q=%20`, { headers: auth })
  assert.equal(empty.status, 400)
  assert.equal(((await empty.json()) as { error: { code: string } }).error.code, 'SEARCH_EMPTY_QUERY')
})

test('catalog, party directory and reachability routes', async () => {
  const catalog = await fetch(`${url}/api/peers/${nodes[1].id}/catalog?sort=title&limit=10`, {
    headers: auth,
  })
  assert.equal(catalog.status, 200)
  assert.equal(((await catalog.json()) as { total: number }).total, 1)
  await directory.announce({ partyId: 'p', name: 'Friday', members: 1, joinPolicy: 'open' })
  await waitFor(async () => {
    const res = await fetch(`${url}/api/directory/parties`, { headers: auth })
    return ((await res.json()) as { parties: Array<{ name: string }> }).parties.some(
      (p) => p.name === 'Friday',
    )
  }, 'the party to be listed')
  const reach = await fetch(`${url}/api/network/reachability`, { headers: auth })
  assert.equal(
    ((await reach.json()) as { status: string }).status,
    'unknown',
    'a loopback-only node cannot know',
  )
})

test('without the search component the routes answer 503', async () => {
  const res = await fetch(`${bareUrl}/api/search/stream?q=x`, { headers: auth })
  assert.equal(res.status, 503)
})

test('`tutti search` prints songs as they are found, then the ranked table', async () => {
  const { searchCommand } = await import('../../src/search/cli-search.ts')
  const { PassThrough } = await import('node:stream')
  const client = {
    baseUrl: url,
    token,
    get: async <T>(path: string) => (await (await fetch(`${url}${path}`, { headers: auth })).json()) as T,
    post: async <T>() => ({}) as T,
  }
  const out = new PassThrough()
  let printed = ''
  out.on('data', (chunk: Buffer) => {
    printed += chunk.toString()
  })
  const results = await searchCommand(client, 'jolene', { timeoutMs: 5_000, out })
  assert.equal(results[0]?.title, 'Jolene')
  assert.match(printed, /found after \d+ ms: Dolly Parton — Jolene/)
  assert.match(printed, /TITLE\s+ARTIST/)
})
