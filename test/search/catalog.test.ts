// Catalog browsing between two nodes: paged and sorted, share scopes (everyone / party / nobody) respected, refusals and malformed requests.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { lpStream } from '@libp2p/utils'
import { encode } from 'cborg'
import type { Song } from '../../src/library/types.ts'
import { createTuttiLibp2p } from '../../src/net/libp2p.ts'
import { catalogPage } from '../../src/search/catalog.ts'
import { CATALOG_PROTOCOL } from '../../src/search/schema.ts'
import { createSearch } from '../../src/search/search.ts'
import { scopeOf, shareScopeCheck } from '../../src/search/share.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { FakeLibrary, song } from './fake-library.ts'
import { connect, startNode, stopAll, type TestNode } from './network.ts'

const songs: Song[] = [
  song('Yesterday', 'The Beatles', 'Help!'),
  song('Jolene', 'Dolly Parton', 'Jolene'),
  song('Hey Jude', 'The Beatles', 'Past Masters'),
  song('Águas de Março', 'Elis Regina', 'Elis & Tom'),
  song('Secret demo', 'Me', 'Private', { path: '/music/private/demo.mp3' }),
  song('Party tape', 'Me', 'Tapes', { path: '/music/party/tape.mp3' }),
]
const settings = {
  defaultScope: 'everyone' as const,
  folders: [
    { path: '/music/private', scope: 'nobody' as const },
    { path: '/music/party', scope: 'party' as const },
  ],
}

const nodes: TestNode[] = []
let server: TestNode
const partyMembers = new Set<string>()

before(async () => {
  const libp2p = await createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 })
  const library = new FakeLibrary(songs)
  const search = createSearch(
    {},
    {
      libp2p,
      library,
      clock: monotonicClock,
      shareScope: shareScopeCheck(settings, (p) => partyMembers.has(p)),
    },
  )
  await search.start()
  server = { libp2p, library, search, id: libp2p.peerId.toString() }
  nodes.push(server, await startNode(), await startNode())
  await connect(nodes[1], server)
  await connect(nodes[2], server)
  partyMembers.add(nodes[2].id)
})
after(() => stopAll(nodes))

test('share scope: longest folder wins, default elsewhere', () => {
  assert.equal(scopeOf(settings, '/music/private/demo.mp3'), 'nobody')
  assert.equal(scopeOf(settings, '/music/party/x/y.mp3'), 'party')
  assert.equal(scopeOf(settings, '/music/privateer/z.mp3'), 'everyone', 'a prefix of a name is not a folder')
})

test('pages are sorted by the requested key and cover the shared library exactly once', async () => {
  const stranger = nodes[1]
  const first = await stranger.search.catalog.browse(server.id, { sort: 'title', limit: 2 })
  assert.equal(first.total, 4, 'private and party-only songs are not shown to a stranger')
  assert.deepEqual(
    first.songs.map((s) => s.title),
    ['Águas de Março', 'Hey Jude'],
    'accent-aware collation',
  )
  const second = await stranger.search.catalog.browse(server.id, { sort: 'title', limit: 2, offset: 2 })
  assert.deepEqual(
    second.songs.map((s) => s.title),
    ['Jolene', 'Yesterday'],
  )
  const byArtist = await stranger.search.catalog.browse(server.id, { sort: 'artist', descending: true })
  assert.deepEqual(
    byArtist.songs.map((s) => s.artist),
    ['The Beatles', 'The Beatles', 'Elis Regina', 'Dolly Parton'],
  )
  assert.ok(!('path' in first.songs[0]), 'file paths never leave the node')
})

test('party members also see party-scoped songs; nobody sees private ones, in catalog or search', async () => {
  const member = nodes[2]
  const page = await member.search.catalog.browse(server.id, { sort: 'album', limit: 200 })
  assert.equal(page.total, 5)
  assert.ok(page.songs.some((s) => s.title === 'Party tape'))
  assert.ok(!page.songs.some((s) => s.title === 'Secret demo'))
  const session = member.search.search({ text: 'secret demo' }, { ttl: 1, timeoutMs: 800 })
  for await (const _ of session) assert.fail('a private song was found by search')
  const tape = member.search.search({ text: 'party tape' }, { ttl: 1, timeoutMs: 30_000 })
  const hits = []
  for await (const hit of tape) {
    hits.push(hit)
    tape.end() // found: no need to wait out the timeout
  }
  assert.equal(hits.length, 1, 'party members find party-scoped songs')
  const stranger = nodes[1].search.search({ text: 'party tape' }, { ttl: 1, timeoutMs: 800 })
  for await (const _ of stranger) assert.fail('a stranger found a party-only song')
})

test('a peer that shares nothing refuses, and a malformed request resets the stream', async () => {
  await assert.rejects(nodes[1].search.catalog.browse(nodes[2].id), { code: 'CATALOG_REFUSED' })
  const stream = await nodes[1].libp2p.dialProtocol(server.libp2p.peerId, CATALOG_PROTOCOL)
  const lp = lpStream(stream)
  await lp.write(encode({ offset: -1, limit: 1e9, sort: 'mood' }))
  await assert.rejects(lp.read({ signal: AbortSignal.timeout(5_000) }))
  const page = await nodes[1].search.catalog.browse(server.id, { limit: 1 })
  assert.equal(page.songs.length, 1, 'the server still serves')
})

test('a peer that resets the catalog stream (one from before a sort it does not know) is unreachable', async () => {
  const old = await startNode()
  nodes.push(old)
  await old.libp2p.unhandle(CATALOG_PROTOCOL)
  await old.libp2p.handle(CATALOG_PROTOCOL, (stream) => stream.abort(new Error('unknown sort')))
  await connect(nodes[1], old)
  await assert.rejects(nodes[1].search.catalog.browse(old.id, { sort: 'duration' }), {
    code: 'PEER_UNREACHABLE',
  })
})

test('catalogPage sorts durations as numbers', () => {
  const timed = [147.5, 147.25, 95].map((durationSec, i) => song(`T${i}`, 'A', 'B', { durationSec }))
  const page = catalogPage(timed, { offset: 0, limit: 10, sort: 'duration', descending: false })
  assert.deepEqual(
    page.songs.map((s) => s.durationSec),
    [95, 147.25, 147.5],
  )
})

test('catalogPage is one entry per content id', () => {
  const twice = [songs[0], { ...songs[0], path: '/elsewhere/y.mp3' }]
  assert.equal(catalogPage(twice, { offset: 0, limit: 10, sort: 'title', descending: false }).total, 1)
})
