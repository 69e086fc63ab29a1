// The download API routes and `tutti get` (runGet) drive a real swarm: start, list, pause, resume, cancel, and a byte-exact fetch through the HTTP API; the songSource adapter streams a song still arriving.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, before, test } from 'node:test'
import { createApiServer } from '../../src/api/server.ts'
import type { ApiComponents } from '../../src/api/types.ts'
import type { ApiClient } from '../../src/cli/api-client.ts'
import { TypedEmitter } from '../../src/shared/events.ts'
import { runGet } from '../../src/swarm/cli-get.ts'
import type { DownloadInfo } from '../../src/swarm/types.ts'
import { cleanup, makeSong, startNode, type TestNode, type TestSong, tempDir } from './helpers.ts'

const TOKEN = 'swarm-test-token'
let seeder: TestNode
let leecher: TestNode
let song: TestSong
let other: TestSong
let client: ApiClient
let stopApi: () => Promise<void>
const dirs: string[] = []

before(async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  song = await makeSong(dir, 700 * 1024)
  other = await makeSong(dir, 2 * 1024 * 1024)
  seeder = await startNode({ songs: [song, other], swarm: { uploadRateBytes: 256 * 1024 } })
  leecher = await startNode()
  const components = {
    library: leecher.library,
    songs: leecher.swarm.songSource(),
    node: { status: () => ({}) as never, peers: () => [] },
    events: new TypedEmitter(),
    swarm: leecher.swarm,
  } as ApiComponents
  const api = createApiServer({ port: 0, token: TOKEN }, components)
  const { url } = await api.start()
  stopApi = () => api.stop()
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const json = (await res.json()) as T & { error?: { message: string } }
    if (!res.ok) throw new Error(`${res.status} ${json.error?.message}`)
    return json
  }
  client = {
    baseUrl: url,
    token: TOKEN,
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
  }
  ;(client as unknown as { call: typeof call }).call = call
})

after(async () => {
  await stopApi()
  await Promise.all([seeder.stop(), leecher.stop()])
  await cleanup(...dirs, seeder.dataDir, leecher.dataDir)
})

test('runGet through the HTTP API fetches the exact bytes and prints the path', async () => {
  let printed = ''
  const info = await runGet(client, song.cid, {
    providers: [seeder.addr],
    stdout: { write: (s: string) => (printed += s) },
  })
  assert.equal(info.state, 'done')
  assert.ok((await readFile(info.path!)).equals(song.bytes))
  assert.equal(printed.trim(), info.path)
  const { downloads } = await client.get<{ downloads: DownloadInfo[] }>('/api/downloads')
  assert.ok(downloads.some((d) => d.cid === song.cid && d.state === 'done'))
})

test('pause, resume and cancel through the API; the song source streams a song still arriving', async () => {
  const call = (client as unknown as { call: (m: string, p: string, b?: unknown) => Promise<unknown> }).call
  const started = (
    await client.post<{ download: DownloadInfo }>('/api/downloads', {
      cid: other.cid,
      providers: [seeder.addr],
    })
  ).download
  assert.equal(started.cid, other.cid)
  // Stream the first 100 KiB through the adapter the HTTP Range route uses, while it downloads.
  const chunks: Uint8Array[] = []
  for await (const c of leecher.swarm
    .songSource()
    .read(other.cid, 0, 100 * 1024 - 1, AbortSignal.timeout(30_000))) {
    chunks.push(c)
  }
  assert.ok(Buffer.concat(chunks).equals(other.bytes.subarray(0, 100 * 1024)))
  assert.equal(leecher.swarm.songSource().stat(other.cid)?.size, other.bytes.length)
  const paused = (await client.post<{ download: DownloadInfo }>(`/api/downloads/${other.cid}/pause`, {}))
    .download
  assert.equal(paused.state, 'paused')
  const resumed = (await client.post<{ download: DownloadInfo }>(`/api/downloads/${other.cid}/resume`, {}))
    .download
  assert.notEqual(resumed.state, 'paused')
  await call('DELETE', `/api/downloads/${other.cid}`)
  const { downloads } = await client.get<{ downloads: DownloadInfo[] }>('/api/downloads')
  assert.ok(!downloads.some((d) => d.cid === other.cid), 'a cancelled download leaves the list')
  await assert.rejects(client.get(`/api/downloads/${other.cid}`), /404/)
})
