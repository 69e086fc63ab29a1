// Browsing a second loopback node's catalog page by page (API and `tutti browse`), and filtered search (`tutti search --artist … --min-duration … --max-duration …`) returning only the matching songs. The CLI runs as a real process against an API served from this test.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { CatalogPage } from '../../src/search/catalog.ts'
import { tuttiAsync } from '../helpers/node-process.ts'
import { type SearchApi, startSearchApi } from './api-server.ts'
import { song } from './fake-library.ts'
import { connect, startNode, stopAll, type TestNode } from './network.ts'

const token = 'test-token-browse-0123456789'
// Shortest first: 147.25 s before 147.5 s (a string collation would put "147.5" first).
const byLength = [
  song('Yesterday', 'The Beatles', 'Help!', { durationSec: 125 }),
  song('Jolene', 'Dolly Parton', 'Jolene', { durationSec: 147.25 }),
  song('Respect', 'Aretha Franklin', 'I Never Loved a Man', { durationSec: 147.5 }),
  song('9 to 5', 'Dolly Parton', '9 to 5 and Odd Jobs', { durationSec: 165.25 }),
  song('Here You Come Again', 'Dolly Parton', 'Here You Come Again', { durationSec: 175.5 }),
  song('Coat of Many Colors', 'Dolly Parton', 'Coat of Many Colors', { durationSec: 185 }),
  song('Islands in the Stream', 'Kenny Rogers', 'Eyes That See in the Dark', { durationSec: 248 }),
  song('Hey Jude', 'The Beatles', 'Past Masters', { durationSec: 431 }),
]

const nodes: TestNode[] = []
let api: SearchApi
let dataDir = ''
let peer = ''

before(async () => {
  nodes.push(await startNode(), await startNode())
  for (const s of byLength) nodes[1].library.add(s)
  peer = nodes[1].id
  await connect(nodes[0], nodes[1])
  api = await startSearchApi(nodes[0], token)
  // A data directory that points the CLI at this API, as a running node's would.
  dataDir = await mkdtemp(join(tmpdir(), 'tutti-browse-cli-'))
  await writeFile(
    join(dataDir, 'node.json'),
    JSON.stringify({ pid: process.pid, apiUrl: api.url, peerId: nodes[0].id, startedAt: '' }),
  )
  await writeFile(join(dataDir, 'api-token'), token)
})
after(async () => {
  await api?.stop()
  await stopAll(nodes)
  if (dataDir !== '') await rm(dataDir, { recursive: true, force: true })
})

const titles = (songs: Array<{ title: string }>) => songs.map((s) => s.title)

async function cli(...args: string[]) {
  const result = await tuttiAsync([...args, '--data', dataDir])
  return { ...result, all: `${result.stdout}${result.stderr}` }
}

test('GET /api/peers/:peerId/catalog pages through the peer’s library sorted by length, both ways', async () => {
  const seen: string[] = []
  for (let offset = 0; ; offset += 3) {
    const res = await fetch(`${api.url}/api/peers/${peer}/catalog?sort=duration&limit=3&offset=${offset}`, {
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(res.status, 200)
    const page = (await res.json()) as CatalogPage
    assert.equal(page.total, byLength.length)
    assert.equal(page.offset, offset)
    if (page.songs.length === 0) break
    assert.ok(page.songs.length <= 3)
    seen.push(...titles(page.songs))
  }
  assert.deepEqual(seen, titles(byLength), 'every song exactly once, shortest first')
  const longest = await fetch(`${api.url}/api/peers/${peer}/catalog?sort=duration&desc=true&limit=2`, {
    headers: { authorization: `Bearer ${token}` },
  })
  assert.deepEqual(titles(((await longest.json()) as CatalogPage).songs), [
    'Hey Jude',
    'Islands in the Stream',
  ])
  const bad = await fetch(`${api.url}/api/peers/${peer}/catalog?sort=mood`, {
    headers: { authorization: `Bearer ${token}` },
  })
  assert.equal(bad.status, 400)
})

test('`tutti browse` shows a peer’s library page by page', async () => {
  const seen: string[] = []
  for (const page of [1, 2, 3]) {
    const run = await cli(
      'browse',
      peer,
      '--page',
      String(page),
      '--limit',
      '3',
      '--sort',
      'duration',
      '--json',
    )
    assert.equal(run.status, 0, run.all)
    const body = JSON.parse(run.stdout) as CatalogPage
    assert.equal(body.offset, (page - 1) * 3)
    seen.push(...titles(body.songs))
  }
  assert.deepEqual(seen, titles(byLength))

  const first = await cli('browse', peer, '--limit', '3', '--sort', 'title')
  assert.equal(first.status, 0, first.all)
  assert.match(first.stdout, /^TITLE\s+ARTIST\s+ALBUM\s+LENGTH\s+SIZE\s+CID/)
  assert.match(
    first.stdout,
    /^9 to 5\s+Dolly Parton\s+9 to 5 and Odd Jobs\s+2:45/m,
    'numeric-aware title order',
  )
  assert.match(
    first.stdout,
    /songs 1–3 of 8 · page 1 of 3 · next: tutti browse \S+ --page 2 --limit 3 --sort title/,
  )
  const last = await cli('browse', peer, '--limit', '3', '--page', '3', '--sort', 'duration', '--desc')
  assert.match(last.stdout, /^Yesterday\s+The Beatles/m, 'descending: the shortest song is on the last page')
  assert.match(last.stdout, /songs 7–8 of 8 · page 3 of 3\n$/)
  const past = await cli('browse', peer, '--page', '9')
  assert.equal(past.status, 0, past.all)
  assert.match(past.stdout, /page 9 is past the end: 8 songs, 1 page/)
})

test('`tutti search` with --artist and a length range returns only the matching songs', async () => {
  const run = await cli(
    'search',
    '--artist',
    'dolly parton',
    '--min-duration',
    '2:45',
    '--max-duration',
    '180',
    '--ttl',
    '1',
    '--timeout',
    '5000',
    '--json',
  )
  assert.equal(run.status, 0, run.all)
  const results = JSON.parse(run.stdout) as Array<{ title: string; artist: string; durationSec: number }>
  assert.deepEqual(titles(results).sort(), ['9 to 5', 'Here You Come Again'])
  for (const r of results) {
    assert.equal(r.artist, 'Dolly Parton')
    assert.ok(r.durationSec >= 165 && r.durationSec <= 180, `${r.title} is ${r.durationSec} s`)
  }
  // Text and a filter together; and what it says when nothing matches.
  const none = await cli('search', 'jolene', '--min-duration', '3:00', '--ttl', '1', '--timeout', '2000')
  assert.equal(none.status, 0, none.all)
  assert.match(none.stdout, /nothing found for "jolene", length 3:00–/)
})

test('usage errors exit 2 and say what is wrong', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['browse'], /whose library/],
    [['browse', peer, '--sort', 'mood'], /--sort: title, artist, album, duration/],
    [['browse', peer, '--page', '0'], /--page: 1\.\./],
    [['search', '--max-duration', '3:00'], /what for\?/],
    [['search', 'x', '--min-duration', 'soon'], /--min-duration: seconds/],
    [['search', 'x', '--min-duration', '300', '--max-duration', '200'], /longer than --max-duration/],
    [['search', 'x', '--timeout', '5'], /--timeout: 100\.\.30000/],
  ]
  const runs = await Promise.all(cases.map(([args]) => cli(...args)))
  runs.forEach((run, i) => {
    assert.equal(run.status, 2, `${cases[i][0].join(' ')}: ${run.all}`)
    assert.match(run.stderr, cases[i][1])
  })
})
