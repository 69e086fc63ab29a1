// Real node processes started with --share: a 'nobody' folder's song is not in a peer's search answers nor in the catalog, and the swarm does not serve it, while the 'everyone' song is all three; `tutti status` lists the share settings.
import assert from 'node:assert/strict'
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { Song } from '../../src/library/types.ts'
import { type NodeProcess, sharedDemoLibrary, startNode, tempDir, tutti } from '../helpers/node-process.ts'
import { waitFor } from '../helpers/wait.ts'

const running: NodeProcess[] = []
let a: NodeProcess
let b: NodeProcess
let lib = ''
let open: Song
let secret: Song

/** A call on `node`'s local API, authenticated like the web UI. */
async function api<T>(node: NodeProcess, method: string, path: string, body?: unknown): Promise<T> {
  const url = new URL(node.webUrl)
  const token = await readFile(join(node.dataDir, 'api-token'), 'utf8')
  const res = await fetch(`${url.origin}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token.trim()}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`)
  return (await res.json()) as T
}

before(async () => {
  // Two different songs, one in a shared folder, one in a private folder inside it.
  const demo = await sharedDemoLibrary()
  const files = (await readdir(demo)).filter((f) => /\.(mp3|wav)$/.test(f)).sort()
  lib = await tempDir('tutti-share-lib-')
  await mkdir(join(lib, 'private'))
  await copyFile(join(demo, files[0]), join(lib, files[0]))
  await copyFile(join(demo, files[1]), join(lib, 'private', files[1]))
  a = await startNode(['--library', lib, '--share', `${join(lib, 'private')}=nobody`])
  running.push(a)
  b = await startNode(['--library', await tempDir('tutti-share-empty-'), '--bootstrap', a.listenAddrs[0]])
  running.push(b)
  const songs = JSON.parse(tutti(['library', '--data', a.dataDir, '--json']).stdout) as Song[]
  open = songs.find((s) => s.path === join(lib, files[0]))!
  secret = songs.find((s) => s.path === join(lib, 'private', files[1]))!
  assert.ok(open !== undefined && secret !== undefined, 'both songs indexed')
})
after(async () => {
  await Promise.all(running.map((n) => n.stop('SIGKILL')))
})

test('tutti status lists the folders and their scopes', () => {
  const status = JSON.parse(tutti(['status', '--data', a.dataDir, '--json']).stdout) as {
    shares: Array<{ path: string; scope: string }>
  }
  assert.deepEqual(status.shares, [
    { path: join(lib, 'private'), scope: 'nobody' },
    { path: lib, scope: 'everyone' },
    { path: join(a.dataDir, 'music'), scope: 'everyone' },
  ])
  const human = tutti(['status', '--data', a.dataDir]).stdout
  assert.match(human, new RegExp(`shares\\s+nobody\\s+${join(lib, 'private')}`))
})

test("a peer's catalog and search show the everyone song, never the nobody song", async () => {
  let catalog: Array<{ cid: string }> = []
  // Throws (and is retried) until b has reached a.
  await waitFor(async () => {
    catalog = (await api<{ songs: Array<{ cid: string }> }>(b, 'GET', `/api/peers/${a.peerId}/catalog`)).songs
    return true
  }, 'b to browse a')
  assert.deepEqual(
    catalog.map((s) => s.cid),
    [open.cid],
  )
  const find = async (title: string) =>
    (
      await api<{ results: Array<{ cid: string }> }>(b, 'POST', '/api/search', {
        title,
        ttl: 1,
        timeoutMs: 2_000,
      })
    ).results
  assert.ok((await find(open.title)).some((r) => r.cid === open.cid))
  assert.ok(!(await find(secret.title)).some((r) => r.cid === secret.cid), 'the nobody song was found')
})

test('the swarm serves the everyone song and answers the nobody song as unknown', async () => {
  type Download = { state: string; sources: unknown[]; bytesDone: number }
  for (const cid of [secret.cid, open.cid])
    await api(b, 'POST', '/api/downloads', { cid, providers: [a.peerId] })
  await waitFor(
    async () =>
      (await api<{ download: Download }>(b, 'GET', `/api/downloads/${open.cid}`)).download.state === 'done',
    'the everyone song to download',
  )
  const hidden = (await api<{ download: Download }>(b, 'GET', `/api/downloads/${secret.cid}`)).download
  assert.equal(hidden.state, 'finding', 'no provider for the nobody song')
  assert.equal(hidden.bytesDone, 0)
})
