// Query flooding over real libp2p nodes on loopback: TTL reach on a line, de-duplication, streaming grouped results with RTT/load, rate limiting, malformed queries.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { FramedStream } from '../../src/net/framed.ts'
import type { SearchResult } from '../../src/search/rank.ts'
import { QueryMessage, SEARCH_PROTOCOL } from '../../src/search/schema.ts'
import type { SearchHit } from '../../src/search/session.ts'
import { waitFor } from '../helpers/wait.ts'
import { song } from './fake-library.ts'
import { connect, enforceTopology, pinTopology, startNode, stopAll, type TestNode, unpin } from './network.ts'

const heyJude = song('Hey Jude', 'The Beatles', 'Past Masters')
const yesterday = song('Yesterday', 'The Beatles', 'Help!')
const jolene = song('Jolene', 'Dolly Parton', 'Jolene')

type Collected = { hits: SearchHit[]; results: SearchResult[] }

/**
 * Runs a search. With `until`, it ends as soon as what has arrived satisfies it (or after 30 s):
 * a result that must arrive is waited for, never bet on arriving within a deadline. Without it,
 * it collects for `timeoutMs`: only for results that must NOT arrive (a late one cannot make
 * such a test fail wrongly).
 */
async function collect(
  node: TestNode,
  text: string,
  ttl: number,
  { timeoutMs = 2_500, until }: { timeoutMs?: number; until?: (c: Collected) => boolean } = {},
) {
  const session = node.search.search({ text }, { ttl, timeoutMs: until === undefined ? timeoutMs : 30_000 })
  const hits: SearchHit[] = []
  const done = () => until?.({ hits, results: session.results() }) === true
  const off = session.on('rtt', () => {
    if (done()) session.end()
  })
  for await (const hit of session) {
    hits.push(hit)
    if (done()) session.end()
  }
  off()
  return { hits, results: session.results(), summary: await session.finished }
}

describe('a line of five nodes A-B-C-D-E', () => {
  const nodes: TestNode[] = []
  const edges: Array<[number, number]> = [
    [0, 1],
    [1, 2],
    [2, 3],
    [3, 4],
  ]
  before(async () => {
    for (let i = 0; i < 5; i++) nodes.push(await startNode({}, undefined, () => i))
    nodes[3].library.add(heyJude) // D: three hops from A
    nodes[4].library.add(yesterday) // E: four hops from A
    nodes[2].library.add(jolene)
    nodes[4].library.add(jolene)
    for (const [x, y] of edges) await connect(nodes[x], nodes[y])
  })
  after(() => stopAll(nodes))

  test('finds a song three hops away with TTL 3, and not one four hops away', async () => {
    // Pinned: a shortcut (A's RTT ping to D, a DHT contact check) would put D or E fewer hops away.
    await pinTopology(nodes, edges)
    await assert.rejects(nodes[0].libp2p.dial(nodes[3].libp2p.getMultiaddrs()[0]), 'no shortcut while pinned')
    const routedBefore = nodes[3].search.stats().resultsRoutedBack
    const near = await collect(nodes[0], 'jude', 3, { until: (c) => c.results.length > 0 })
    assert.ok(
      nodes[3].search.stats().resultsRoutedBack > routedBefore,
      'D, not connected to A, sent its answer back along the query path',
    )
    assert.deepEqual(
      near.results.map((r) => r.title),
      ['Hey Jude'],
    )
    assert.equal(near.results[0].providers[0].peerId, nodes[3].id)
    assert.equal(near.results[0].providers[0].hops, 3)
    const far = await collect(nodes[0], 'yesterday', 3)
    assert.deepEqual(far.results, [], 'E is beyond TTL 3')
    const further = await collect(nodes[0], 'yesterday', 4, { until: (c) => c.results.length > 0 })
    assert.deepEqual(
      further.results.map((r) => r.cid),
      [yesterday.cid],
      'TTL 4 reaches E',
    )
    unpin(nodes)
  })

  test('results are grouped by content id with every provider, RTT measured and load reported', async () => {
    await enforceTopology(nodes, edges)
    const { hits, results } = await collect(nodes[0], 'jolene parton', 5, {
      until: (c) => c.hits.length >= 2 && c.results[0]?.providers.every((p) => p.rttMs !== undefined),
    })
    assert.equal(hits.length, 2, 'one hit from each holder, streamed')
    assert.equal(results.length, 1)
    const providers = results[0].providers
    assert.deepEqual(providers.map((p) => p.peerId).sort(), [nodes[2].id, nodes[4].id].sort())
    for (const p of providers) assert.ok(p.rttMs !== undefined && p.rttMs >= 0, 'RTT measured by ping')
    assert.deepEqual(providers.map((p) => p.load).sort(), [2, 4], 'each provider reports its own load')
  })

  test('the asker does not answer itself and an unknown song finds nothing', async () => {
    const { results } = await collect(nodes[2], 'no such song anywhere', 5, { timeoutMs: 1_000 })
    assert.deepEqual(results, [])
  })

  test('an empty query is refused before it leaves the node', () => {
    assert.throws(() => nodes[0].search.search({ text: '  ,, ' }), { code: 'SEARCH_EMPTY_QUERY' })
  })
})

describe('a diamond A-B, A-C, B-D, C-D', () => {
  const nodes: TestNode[] = []
  before(async () => {
    for (let i = 0; i < 4; i++) nodes.push(await startNode())
    nodes[3].library.add(heyJude)
    await connect(nodes[0], nodes[1])
    await connect(nodes[0], nodes[2])
    await connect(nodes[1], nodes[3])
    await connect(nodes[2], nodes[3])
  })
  after(() => stopAll(nodes))

  test('a query reaching D along two paths is answered once', async () => {
    const before = nodes[3].search.stats()
    let answered = 0
    const off = nodes[3].search.on('query:answered', () => answered++)
    const { hits } = await collect(nodes[0], 'hey jude', 4, { until: (c) => c.hits.length > 0 })
    assert.equal(hits.length, 1, 'an answer from D')
    await waitFor(
      () => nodes[3].search.stats().queriesReceived - before.queriesReceived >= 2,
      'both copies to reach D',
    )
    off()
    assert.equal(answered, 1, 'D answered the query once')
    const after = nodes[3].search.stats()
    assert.ok(
      after.duplicatesDropped > before.duplicatesDropped,
      'the second copy was recognised as a duplicate',
    )
    await waitFor(
      () => nodes[3].search.stats().resultMessagesSent - before.resultMessagesSent >= 1,
      'D to count its answer sent',
    )
    assert.equal(nodes[3].search.stats().resultMessagesSent - before.resultMessagesSent, 1)
  })

  test('the same query id sent twice by a neighbour is answered once', async () => {
    const before = nodes[3].search.stats().queriesReceived
    let answered = 0
    const off = nodes[3].search.on('query:answered', () => answered++)
    const session = nodes[1].search.search({ text: 'jude' }, { ttl: 1, timeoutMs: 30_000 })
    const hits: SearchHit[] = []
    session.on('hit', (hit) => hits.push(hit))
    // Re-send B's own query frame to D a second time, by hand.
    const stream = await nodes[1].libp2p.dialProtocol(nodes[3].libp2p.peerId, SEARCH_PROTOCOL)
    const framed = new FramedStream(stream, QueryMessage, QueryMessage, { maxMessageBytes: 4096 })
    const copy = {
      id: session.id,
      ttl: 1,
      hops: 0,
      origin: { peerId: nodes[1].id, addrs: nodes[1].libp2p.getMultiaddrs().map(String) },
      text: 'jude',
      filters: {},
      limit: 20,
    }
    await framed.write(copy)
    await framed.write(copy)
    await framed.close()
    // Three copies reach D (the search's own and two by hand); wait for all and for the answer.
    await waitFor(
      () => nodes[3].search.stats().queriesReceived - before >= 3 && hits.length > 0,
      'D to read all three copies and B to get the answer',
    )
    off()
    session.end()
    assert.equal(answered, 1, 'D answered once')
    assert.equal(hits.length, 1)
  })
})

describe('abuse', () => {
  const nodes: TestNode[] = []
  // A - B - C, and a flooder F attached to B.
  before(async () => {
    for (let i = 0; i < 4; i++) nodes.push(await startNode({ rateLimit: { perSecond: 2, burst: 5 } }))
    nodes[2].library.add(heyJude)
    await connect(nodes[0], nodes[1])
    await connect(nodes[1], nodes[2])
    await connect(nodes[3], nodes[1])
  })
  after(() => stopAll(nodes))

  test('a peer flooding queries is rate-limited and the others still get answers', async () => {
    const [a, b, c, flooder] = nodes
    const stream = await flooder.libp2p.dialProtocol(b.libp2p.peerId, SEARCH_PROTOCOL)
    const framed = new FramedStream(stream, QueryMessage, QueryMessage, { maxMessageBytes: 4096 })
    const cBefore = c.search.stats().queriesReceived
    for (let i = 0; i < 200; i++) {
      await framed.write({
        id: i.toString(16).padStart(32, '0'),
        ttl: 4,
        hops: 0,
        origin: { peerId: flooder.id, addrs: [] },
        text: `flood ${i}`,
        filters: {},
        limit: 20,
      })
    }
    await framed.close()
    await waitFor(() => b.search.stats().queriesReceived >= 200, 'B to read the flood')
    const score = b.search.offenders().find((o) => o.peerId === flooder.id)
    assert.ok(
      score !== undefined && score.rateLimited >= 190,
      `B dropped the excess (dropped ${score?.rateLimited})`,
    )
    const forwardedToC = c.search.stats().queriesReceived - cBefore
    assert.ok(forwardedToC <= 10, `C saw only what the bucket let through (${forwardedToC})`)
    const { results } = await collect(a, 'hey jude', 3, { until: (c) => c.results.length > 0 })
    assert.deepEqual(
      results.map((r) => r.cid),
      [heyJude.cid],
      'A still gets its answer',
    )
    assert.equal(
      b.search.offenders().find((o) => o.peerId === a.id),
      undefined,
      'A is not blamed',
    )
  })

  test('malformed queries are refused with a reset stream and the node keeps serving', async () => {
    const [a, b, , flooder] = nodes
    const bad: unknown[] = [
      {
        id: 'not-hex',
        ttl: 2,
        hops: 0,
        origin: { peerId: flooder.id, addrs: [] },
        text: 'x',
        filters: {},
        limit: 5,
      },
      {
        id: 'a'.repeat(32),
        ttl: 2,
        hops: 0,
        origin: { peerId: flooder.id, addrs: [] },
        text: '',
        filters: {},
        limit: 5,
      },
      {
        id: 'b'.repeat(32),
        ttl: 99,
        hops: 0,
        origin: { peerId: flooder.id, addrs: [] },
        text: 'x',
        filters: {},
        limit: 5,
      },
      {
        id: 'c'.repeat(32),
        ttl: 2,
        hops: 0,
        origin: { peerId: flooder.id, addrs: [] },
        text: 'x'.repeat(5000),
        filters: {},
        limit: 5,
      },
    ]
    const refusedBefore = b.search.offenders().find((o) => o.peerId === flooder.id)?.malformed ?? 0
    for (const message of bad) {
      const stream = await flooder.libp2p.dialProtocol(b.libp2p.peerId, SEARCH_PROTOCOL)
      const { encode } = await import('cborg')
      const { lpStream } = await import('@libp2p/utils')
      await lpStream(stream)
        .write(encode(message))
        .catch(() => {})
      await waitFor(
        () => stream.status !== 'open' || stream.readStatus !== 'readable',
        'B to reset the stream',
        { timeoutMs: 5_000 },
      ).catch(() => {})
    }
    // And raw garbage that is not CBOR at all.
    const raw = await flooder.libp2p.dialProtocol(b.libp2p.peerId, SEARCH_PROTOCOL)
    raw.send(new Uint8Array([5, 0xff, 0xff, 0xff, 0xff, 0xff]))
    await waitFor(
      () =>
        (b.search.offenders().find((o) => o.peerId === flooder.id)?.malformed ?? 0) - refusedBefore >=
        bad.length + 1,
      'every malformed query to be refused',
    )
    const { results } = await collect(a, 'jude', 3, { until: (c) => c.results.length > 0 })
    assert.equal(results.length, 1, 'B still forwards good queries')
  })
})
