/**
 * Search benchmark: 50 libp2p nodes in one process, a random topology of
 * degree 4 (seeded), each song held by 3 nodes. For TTL 1..5: share of holders
 * found (overall and within 1 s), time to first and last result, and messages
 * sent per query beside the flooding bound. Goal: ≥ 95 % of holders found
 * within 1 s at TTL 4. Writes bench/results/search.json.
 *
 *   npm run bench:search [-- --nodes 50 --queries 20 --seed 42]
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { createTuttiLibp2p, type TuttiLibp2p } from '../src/net/libp2p.ts'
import { createSearch, type Search } from '../src/search/search.ts'
import { monotonicClock } from '../src/shared/clock.ts'
import { FakeLibrary, song } from '../test/search/fake-library.ts'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const NODES = arg('nodes', 50)
const DEGREE = 4
const COPIES = 3
const SONGS = arg('songs', 40)
const QUERIES = arg('queries', 20)
const CONCURRENCY = 4
const TIMEOUT_MS = 2_000
const SEED = arg('seed', Math.floor(Math.random() * 2 ** 31))

function mulberry32(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const random = mulberry32(SEED)
const pick = (n: number) => Math.floor(random() * n)

/** A random d-regular graph by the pairing model, retried until simple (no loops, no multi-edges) and connected. */
function randomRegularGraph(n: number, d: number): Array<[number, number]> {
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const stubs = Array.from({ length: n * d }, (_, i) => Math.floor(i / d))
    for (let i = stubs.length - 1; i > 0; i--) {
      const j = pick(i + 1)
      ;[stubs[i], stubs[j]] = [stubs[j], stubs[i]]
    }
    const edges = new Set<string>()
    let ok = true
    for (let i = 0; i < stubs.length; i += 2) {
      const [x, y] = [Math.min(stubs[i], stubs[i + 1]), Math.max(stubs[i], stubs[i + 1])]
      if (x === y || edges.has(`${x}-${y}`)) {
        ok = false
        break
      }
      edges.add(`${x}-${y}`)
    }
    if (!ok) continue
    const list = [...edges].map((e) => e.split('-').map(Number) as [number, number])
    const seen = new Set([0])
    const stack = [0]
    while (stack.length > 0) {
      const v = stack.pop() as number
      for (const [x, y] of list) {
        const w = x === v ? y : y === v ? x : -1
        if (w >= 0 && !seen.has(w)) {
          seen.add(w)
          stack.push(w)
        }
      }
    }
    if (seen.size === n) return list
  }
  throw new Error('no simple connected regular graph found')
}

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}
const round = (x: number) => Math.round(x * 10) / 10

interface Node {
  libp2p: TuttiLibp2p
  library: FakeLibrary
  search: Search
  id: string
}

async function main(): Promise<void> {
  console.log(
    `search bench: ${NODES} nodes, degree ${DEGREE}, ${SONGS} songs × ${COPIES} copies, seed ${SEED}`,
  )
  const nodes: Node[] = []
  // Each node's allowed neighbours; a connection gater pins the overlay to the random graph
  // (otherwise the DHT opens shortcut connections, and search floods over every connection).
  const neighbours = new Map<string, Set<string>>()
  for (let i = 0; i < NODES; i++) {
    let self = ''
    const allowed = (peer: { toString(): string }) => neighbours.get(self)?.has(peer.toString()) ?? true
    const libp2p = await createTuttiLibp2p({
      mdns: false,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      autoDialBelow: 0,
      connectionGater: {
        denyDialPeer: (peer) => !allowed(peer),
        denyInboundEncryptedConnection: (peer) => !allowed(peer),
      },
    })
    self = libp2p.peerId.toString()
    const library = new FakeLibrary()
    // Generous limits: the bench measures reach, not the rate limiter. No background RTT pings:
    // they dial providers, and every new connection would become a flooding neighbour mid-run.
    const search = createSearch(
      { rateLimit: { perSecond: 50, burst: 100 }, measureRtt: process.argv.includes('--rtt') },
      { libp2p, library, clock: monotonicClock, load: () => 0 },
    )
    await search.start()
    nodes.push({ libp2p, library, search, id: libp2p.peerId.toString() })
  }
  const songs = Array.from({ length: SONGS }, (_, i) =>
    song(`Track ${i} of the bench`, `Artist ${i}`, `Album ${i % 7}`),
  )
  const holders = new Map<string, number[]>()
  for (const s of songs) {
    const chosen = new Set<number>()
    while (chosen.size < COPIES) chosen.add(pick(NODES))
    holders.set(s.cid, [...chosen])
    for (const i of chosen) nodes[i].library.add(s)
  }
  const edges = randomRegularGraph(NODES, DEGREE)
  for (const node of nodes) neighbours.set(node.id, new Set())
  for (const [x, y] of edges) {
    neighbours.get(nodes[x].id)?.add(nodes[y].id)
    neighbours.get(nodes[y].id)?.add(nodes[x].id)
  }
  // A few dials at a time: a hundred simultaneous noise handshakes starve a shared CPU into timeouts.
  const pending = [...edges]
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let e = pending.shift(); e !== undefined; e = pending.shift()) {
        const [x, y] = e
        for (let attempt = 1; ; attempt++) {
          try {
            await nodes[x].libp2p.dial(nodes[y].libp2p.getMultiaddrs()[0], {
              signal: AbortSignal.timeout(20_000),
            })
            break
          } catch (err) {
            if (attempt >= 3) throw err
          }
        }
      }
    }),
  )
  const allowed = new Set(
    edges.flatMap(([x, y]) => [`${nodes[x].id}>${nodes[y].id}`, `${nodes[y].id}>${nodes[x].id}`]),
  )
  // The DHT may open shortcut connections; hang them up so the topology is the one measured.
  const enforceTopology = async () => {
    for (const node of nodes)
      for (const c of node.libp2p.getConnections())
        if (!allowed.has(`${node.id}>${c.remotePeer.toString()}`))
          await node.libp2p.hangUp(c.remotePeer).catch(() => {})
  }
  await new Promise((resolve) => setTimeout(resolve, 1_000))

  const rows = []
  for (let ttl = 1; ttl <= 5; ttl++) {
    await enforceTopology()
    const degrees = nodes.map(
      (n) => new Set(n.libp2p.getConnections().map((c) => c.remotePeer.toString())).size,
    )
    const before = nodes.map((n) => n.search.stats())
    const found: number[] = []
    const foundWithin1s: number[] = []
    const first: number[] = []
    const last: number[] = []
    const plan = Array.from({ length: QUERIES }, () => ({ origin: pick(NODES), song: songs[pick(SONGS)] }))
    const runOne = async ({ origin, song: target }: (typeof plan)[number]) => {
      const expected = new Set(
        (holders.get(target.cid) ?? []).filter((h) => h !== origin).map((h) => nodes[h].id),
      )
      if (expected.size === 0) return
      const session = nodes[origin].search.search({ text: target.title }, { ttl, timeoutMs: TIMEOUT_MS })
      const seen = new Map<string, number>()
      for await (const hit of session) {
        if (hit.hit.cid !== target.cid || !expected.has(hit.provider.peerId)) continue
        if (!seen.has(hit.provider.peerId)) seen.set(hit.provider.peerId, hit.atMs)
        if (seen.size === expected.size) session.end()
      }
      found.push(seen.size / expected.size)
      foundWithin1s.push([...seen.values()].filter((ms) => ms <= 1_000).length / expected.size)
      if (seen.size > 0) {
        first.push(Math.min(...seen.values()))
        last.push(Math.max(...seen.values()))
      }
    }
    const queue = [...plan]
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let q = queue.shift(); q !== undefined; q = queue.shift()) await runOne(q)
      }),
    )
    // Late answers still count as messages: let the flood settle before reading counters.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const after = nodes.map((n) => n.search.stats())
    const sum = (key: 'queryMessagesSent' | 'resultMessagesSent') =>
      after.reduce((acc, s, i) => acc + s[key] - before[i][key], 0)
    const queries = found.length
    const queryMessages = sum('queryMessagesSent') / queries
    const resultMessages = sum('resultMessagesSent') / queries
    let bound = 0
    for (let k = 1; k <= ttl; k++) bound += DEGREE * (DEGREE - 1) ** (k - 1)
    bound = Math.min(bound, NODES * DEGREE)
    const row = {
      ttl,
      queries,
      meanDegree: round(degrees.reduce((a, b) => a + b, 0) / NODES),
      holdersFoundShare: round((100 * found.reduce((a, b) => a + b, 0)) / queries) / 100,
      holdersFoundWithin1sShare: round((100 * foundWithin1s.reduce((a, b) => a + b, 0)) / queries) / 100,
      firstResultMs: {
        median: round(quantile(first, 0.5)),
        p10: round(quantile(first, 0.1)),
        p90: round(quantile(first, 0.9)),
      },
      lastResultMs: {
        median: round(quantile(last, 0.5)),
        p10: round(quantile(last, 0.1)),
        p90: round(quantile(last, 0.9)),
      },
      queryMessagesPerQuery: round(queryMessages),
      resultMessagesPerQuery: round(resultMessages),
      floodingBound: bound,
      queryMessagesOverBound: round((100 * queryMessages) / bound) / 100,
    }
    rows.push(row)
    console.log(
      `TTL ${ttl}: found ${(row.holdersFoundShare * 100).toFixed(0)}% (≤1 s ${(row.holdersFoundWithin1sShare * 100).toFixed(0)}%)` +
        ` | first ${row.firstResultMs.median} ms [${row.firstResultMs.p10}–${row.firstResultMs.p90}]` +
        ` | last ${row.lastResultMs.median} ms [${row.lastResultMs.p10}–${row.lastResultMs.p90}]` +
        ` | query msgs/query ${row.queryMessagesPerQuery} vs flooding bound ${bound} (${row.queryMessagesOverBound}×)` +
        ` + result msgs ${row.resultMessagesPerQuery} | degree ${row.meanDegree}`,
    )
  }
  const ttl4 = rows.find((r) => r.ttl === 4)
  const goalMet = (ttl4?.holdersFoundWithin1sShare ?? 0) >= 0.95
  console.log(`goal (≥ 95 % of holders within 1 s at TTL 4): ${goalMet ? 'met' : 'NOT met'}`)
  await mkdir('bench/results', { recursive: true })
  await writeFile(
    'bench/results/search.json',
    `${JSON.stringify({ seed: SEED, nodes: NODES, degree: DEGREE, copies: COPIES, songs: SONGS, timeoutMs: TIMEOUT_MS, goalMet, rows }, null, 2)}\n`,
  )
  await Promise.all(
    nodes.map(async (n) => {
      await n.search.stop()
      await n.libp2p.stop()
    }),
  )
}

await main()
process.exit(0)
