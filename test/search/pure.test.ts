// Pure parts of search: token-bucket refill, query-id de-duplication with expiry, provider ranking by RTT and load.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { addHit, rankProviders, rankResults, type SearchResult } from '../../src/search/rank.ts'
import { TokenBuckets } from '../../src/search/rate-limit.ts'
import { SeenCache } from '../../src/search/seen-cache.ts'

test('a token bucket allows the burst, then the sustained rate, per peer', () => {
  const buckets = new TokenBuckets({ perSecond: 2, burst: 3 })
  const taken = Array.from({ length: 5 }, () => buckets.take('flooder', 0))
  assert.deepEqual(taken, [true, true, true, false, false])
  assert.equal(buckets.take('someone-else', 0), true, 'other peers have their own bucket')
  assert.equal(buckets.take('flooder', 400), false, '0.8 token after 400 ms')
  assert.equal(buckets.take('flooder', 500), true, 'one token after 500 ms')
  assert.equal(buckets.take('flooder', 10_000), true)
  assert.equal(
    Array.from({ length: 10 }, () => buckets.take('flooder', 10_000)).filter(Boolean).length,
    2,
    'refill is capped at the burst',
  )
})

test('a query id is new once, a duplicate until it expires, and remembers where it came from', () => {
  const seen = new SeenCache(1_000)
  assert.equal(seen.add('q1', 'peerA', 0, 'origin'), true)
  assert.equal(seen.add('q1', 'peerB', 10), false)
  assert.equal(seen.get('q1', 10)?.from, 'peerA')
  assert.equal(seen.get('q1', 10)?.origin, 'origin')
  assert.equal(seen.get('q1', 1_000), undefined)
  assert.equal(seen.add('q1', 'peerB', 1_000), true, 'after expiry it is new again')
})

test('providers rank by RTT plus a penalty per active upload; unknown RTT ranks behind measured ones', () => {
  const ranked = rankProviders([
    { peerId: 'slow', addrs: [], rttMs: 200, load: 0, hops: 1 },
    { peerId: 'busy', addrs: [], rttMs: 10, load: 8, hops: 1 },
    { peerId: 'fast', addrs: [], rttMs: 20, load: 1, hops: 2 },
    { peerId: 'unknown', addrs: [], load: 0, hops: 1 },
  ])
  assert.deepEqual(
    ranked.map((p) => p.peerId),
    ['fast', 'slow', 'busy', 'unknown'],
  )
})

test('hits group by content id; results rank by score, then by how many peers have them', () => {
  const groups = new Map<string, SearchResult>()
  const hit = (cid: string, score: number) => ({
    cid,
    title: cid,
    artist: 'x',
    album: 'y',
    durationSec: 100,
    size: 1,
    format: 'mp3',
    score,
  })
  addHit(groups, hit('a', 3), { peerId: 'p1', addrs: [], load: 0, hops: 1, rttMs: 5 })
  addHit(groups, hit('b', 3), { peerId: 'p1', addrs: [], load: 0, hops: 1, rttMs: 5 })
  addHit(groups, hit('b', 3), { peerId: 'p2', addrs: [], load: 0, hops: 2, rttMs: 5 })
  addHit(groups, hit('b', 3), { peerId: 'p2', addrs: [], load: 1, hops: 2, rttMs: 5 })
  addHit(groups, hit('c', 5), { peerId: 'p3', addrs: [], load: 0, hops: 1, rttMs: 5 })
  const results = rankResults(groups.values())
  assert.deepEqual(
    results.map((r) => [r.cid, r.providers.length]),
    [
      ['c', 1],
      ['b', 2],
      ['a', 1],
    ],
  )
  assert.equal(
    results[1].providers.find((p) => p.peerId === 'p2')?.load,
    1,
    'a provider answering again is updated, not duplicated',
  )
})
