// Answers routed back along the query path: the provider's genuine (signed) answer arrives through a forwarder, while answers forged or altered in another provider's name are dropped (by the asker, or by the first honest forwarder) and counted against the peer that sent them.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { PrivateKey } from '@libp2p/interface'
import { FramedStream } from '../../src/net/framed.ts'
import { answerSigningBytes, signAnswer, verifyAnswer } from '../../src/search/answer-signature.ts'
import { MAX_RESULT_BYTES, NoMessage, RESULTS_PROTOCOL, ResultMessage } from '../../src/search/schema.ts'
import { waitFor } from '../helpers/wait.ts'
import { song } from './fake-library.ts'
import { connect, enforceTopology, startNode, stopAll, type TestNode } from './network.ts'

const jolene = song('Jolene', 'Dolly Parton', 'Jolene')
const fake = { ...song('Jolene (remastered)', 'Dolly Parton', 'Jolene'), score: 10 }

function keyOf(node: TestNode): PrivateKey {
  const key = (node.libp2p as unknown as { components: { privateKey: PrivateKey } }).components.privateKey
  assert.ok(key, 'libp2p exposes its identity key to components')
  return key
}

function hitOf(s: typeof fake) {
  return {
    cid: s.cid,
    title: s.title,
    artist: s.artist,
    album: s.album,
    durationSec: s.durationSec,
    size: s.size,
    format: s.format,
    score: 10,
  }
}

describe('a forwarder between the asker and the provider (A - M - P)', () => {
  const nodes: TestNode[] = []
  const edges: Array<[number, number]> = [
    [0, 1],
    [1, 2],
  ]
  before(async () => {
    // A does not ping providers: a ping would dial P and give its answers a direct path.
    nodes.push(await startNode({ measureRtt: false }))
    nodes.push(await startNode())
    nodes.push(await startNode())
    nodes[2].library.add(jolene)
    for (const [x, y] of edges) await connect(nodes[x], nodes[y])
  })
  after(() => stopAll(nodes))

  test("A takes P's signed answer through M, and drops what M makes up or alters in P's name", async () => {
    const [a, m, p] = nodes
    await enforceTopology(nodes, edges)
    const session = a.search.search({ text: 'jolene' }, { ttl: 3, timeoutMs: 30_000 })

    // M, dishonest, sends A three answers for this very query in P's name, as if passed on from P.
    const base: ResultMessage = {
      queryId: session.id,
      provider: { peerId: p.id, addrs: m.libp2p.getMultiaddrs().map(String) }, // "download from me"
      load: 0,
      hops: 2,
      backHops: 1,
      hits: [hitOf(fake)],
    }
    const signedByM = await signAnswer(base, keyOf(m)) // M's own key, P's name
    const signedByP = await signAnswer({ ...base, provider: { peerId: p.id, addrs: [] } }, keyOf(p))
    const altered = { ...signedByP, provider: { peerId: p.id, addrs: base.provider.addrs } } // P signed other addrs
    const forgeries: ResultMessage[] = [base, signedByM, altered]
    const stream = await m.libp2p.dialProtocol(a.libp2p.peerId, RESULTS_PROTOCOL)
    const framed = new FramedStream(stream, NoMessage, ResultMessage, { maxMessageBytes: MAX_RESULT_BYTES })
    for (const forged of forgeries) await framed.write(forged)
    await framed.close()

    await waitFor(
      () => a.search.stats().forgedDropped >= forgeries.length && session.results().length > 0,
      `A to judge the three forgeries (dropped ${a.search.stats().forgedDropped}) and get P's answer`,
      { timeoutMs: 30_000 },
    )
    session.end()
    const results = session.results()
    assert.deepEqual(
      results.map((r) => [r.title, r.providers.map((x) => x.peerId)]),
      [['Jolene', [p.id]]],
      'only the song P really has, with P as its only provider',
    )
    assert.ok(p.search.stats().resultsRoutedBack > 0, 'P answered back along the query path, through M')
    assert.deepEqual(
      results[0].providers[0].addrs,
      p.libp2p.getMultiaddrs().map(String),
      "P's own addresses, not the ones M substituted",
    )
    assert.equal(a.search.stats().forgedDropped, forgeries.length)
    const offender = a.search.offenders().find((o) => o.peerId === m.id)
    assert.equal(offender?.forged, forgeries.length, 'the forgeries are counted against M')
  })
})

describe('a forger beside an honest forwarder (A - F - P, M - F)', () => {
  const nodes: TestNode[] = []
  const edges: Array<[number, number]> = [
    [0, 1],
    [1, 2],
    [3, 1],
  ]
  before(async () => {
    nodes.push(await startNode({ measureRtt: false }))
    for (let i = 0; i < 3; i++) nodes.push(await startNode())
    nodes[2].library.add(jolene)
    for (const [x, y] of edges) await connect(nodes[x], nodes[y])
  })
  after(() => stopAll(nodes))

  test('F drops the forgery M hands it and blames M; A never sees it, and F is not blamed', async () => {
    const [a, f, p, m] = nodes
    await enforceTopology(nodes, edges)
    const session = a.search.search({ text: 'jolene' }, { ttl: 3, timeoutMs: 30_000 })
    await waitFor(() => f.search.stats().queriesReceived > 0, 'F to see the query')
    const forged: ResultMessage = {
      queryId: session.id,
      provider: { peerId: p.id, addrs: m.libp2p.getMultiaddrs().map(String) },
      load: 0,
      hops: 2,
      backHops: 1,
      hits: [hitOf(fake)],
    }
    const stream = await m.libp2p.dialProtocol(f.libp2p.peerId, RESULTS_PROTOCOL)
    const framed = new FramedStream(stream, NoMessage, ResultMessage, { maxMessageBytes: MAX_RESULT_BYTES })
    await framed.write(await signAnswer(forged, keyOf(m)))
    await framed.close()
    await waitFor(
      () => f.search.stats().forgedDropped === 1 && session.results().length > 0,
      "F to drop the forgery and A to get P's answer",
      { timeoutMs: 30_000 },
    )
    session.end()
    assert.deepEqual(
      session.results().map((r) => [r.title, r.providers.map((x) => x.peerId)]),
      [['Jolene', [p.id]]],
    )
    assert.equal(f.search.offenders().find((o) => o.peerId === m.id)?.forged, 1, 'F blames M')
    assert.equal(a.search.stats().forgedDropped, 0, 'nothing forged reached A')
    assert.equal(a.search.offenders().find((o) => o.peerId === f.id)?.forged ?? 0, 0, 'A does not blame F')
  })
})

test('a signature covers every field but backHops', async () => {
  const node = await startNode()
  try {
    const answer: ResultMessage = {
      queryId: 'ab'.repeat(16),
      provider: { peerId: node.id, addrs: ['/ip4/127.0.0.1/tcp/1'] },
      load: 3,
      hops: 2,
      backHops: 0,
      hits: [hitOf(fake)],
    }
    const signed = await signAnswer(answer, keyOf(node))
    assert.equal(await verifyAnswer(signed), true)
    assert.equal(await verifyAnswer({ ...signed, backHops: 5 }), true, 'forwarders may count hops')
    const tampered: ResultMessage[] = [
      { ...signed, queryId: 'cd'.repeat(16) },
      { ...signed, load: 0 },
      { ...signed, hops: 1 },
      { ...signed, hits: [{ ...hitOf(fake), cid: 'bafyother' }] },
      { ...signed, hits: [{ ...hitOf(fake), size: 1 }] },
      { ...signed, provider: { ...signed.provider, addrs: [] } },
      { ...answer },
    ]
    for (const t of tampered) assert.equal(await verifyAnswer(t), false, JSON.stringify(t).slice(0, 120))
    assert.ok(answerSigningBytes(answer).length > 0)
  } finally {
    await stopAll([node])
  }
})
