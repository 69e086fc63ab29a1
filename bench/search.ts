/**
 * Search benchmark: 50 libp2p nodes in one process, a random topology of
 * degree 4 (seeded), each song held by 3 nodes. For TTL 1..5: share of holders
 * found (overall and within 1 s), time to first and last result, and messages
 * sent per query beside the flooding bound. Goal: ≥ 95 % of holders found
 * within 1 s at TTL 4. Writes bench/results/search.json.
 *
 * Nodes are spread over several worker processes (bench/search-worker.ts) so
 * the run uses every core; each process hosts NODES / PROCESSES nodes.
 *
 *   npm run bench:search [-- --nodes 50 --processes 5 --queries 20 --seed 42 --rtt]
 */
import { type ChildProcess, fork } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { mulberry32 } from '../src/shared/random.ts'
import { song as fakeSong } from '../test/search/fake-library.ts'
import type { WorkerCommand } from './search-worker.ts'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const NODES = arg('nodes', 50)
const DEGREE = 4
const COPIES = 3
const SONGS = arg('songs', 40)
const QUERIES = arg('queries', 20)
const PROCESSES = arg('processes', 5)
const CONCURRENCY = 4
const TIMEOUT_MS = 5_000
const SEED = arg('seed', Math.floor(Math.random() * 2 ** 31))

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

interface Worker {
  child: ChildProcess
  /** Global index of its first node. */
  offset: number
  count: number
  waiters: Array<{ type: string; resolve: (message: Record<string, unknown>) => void }>
  answers: Map<number, (times: number[]) => void>
}

function startWorker(offset: number, count: number): Worker {
  const child = fork(new URL('./search-worker.ts', import.meta.url), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const worker: Worker = { child, offset, count, waiters: [], answers: new Map() }
  child.on('message', (message: Record<string, unknown>) => {
    if (message.type === 'error') {
      console.error(`worker failed: ${message.message}`)
      process.exit(1)
    }
    if (message.type === 'answered') {
      worker.answers.get(message.qid as number)?.(message.times as number[])
      worker.answers.delete(message.qid as number)
      return
    }
    const i = worker.waiters.findIndex((w) => w.type === message.type)
    if (i >= 0) worker.waiters.splice(i, 1)[0].resolve(message)
  })
  return worker
}

function request(worker: Worker, command: WorkerCommand, reply: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    worker.waiters.push({ type: reply, resolve })
    worker.child.send(command)
  })
}

async function main(): Promise<void> {
  console.log(
    `search bench: ${NODES} nodes in ${PROCESSES} processes, degree ${DEGREE}, ${SONGS} songs × ${COPIES} copies, seed ${SEED}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  )
  const workers: Worker[] = []
  const perWorker = Math.ceil(NODES / PROCESSES)
  for (let offset = 0; offset < NODES; offset += perWorker)
    workers.push(startWorker(offset, Math.min(perWorker, NODES - offset)))
  const ids: string[] = []
  const addrs: string[] = []
  for (const w of workers) {
    const created = await request(
      w,
      { type: 'create', count: w.count, measureRtt: process.argv.includes('--rtt') },
      'created',
    )
    for (const n of created.nodes as Array<{ id: string; addr: string }>) {
      ids.push(n.id)
      addrs.push(n.addr)
    }
  }
  const workerOf = (node: number) =>
    workers.find((w) => node >= w.offset && node < w.offset + w.count) as Worker

  const songs = Array.from({ length: SONGS }, (_, i) => ({
    title: `Track ${i} of the bench`,
    artist: `Artist ${i}`,
    album: `Album ${i % 7}`,
    cid: '',
  }))
  const holders: number[][] = []
  const songsOf: Array<typeof songs> = Array.from({ length: NODES }, () => [])
  for (const s of songs) {
    const chosen = new Set<number>()
    while (chosen.size < COPIES) chosen.add(pick(NODES))
    holders.push([...chosen])
    for (const i of chosen) songsOf[i].push(s)
  }
  const edges = randomRegularGraph(NODES, DEGREE)
  /** Overlay distance from `origin` to every node (breadth-first). */
  const hopsFrom = (origin: number): number[] => {
    const dist = Array.from({ length: NODES }, () => Number.POSITIVE_INFINITY)
    dist[origin] = 0
    const queue = [origin]
    for (let v = queue.shift(); v !== undefined; v = queue.shift())
      for (const [x, y] of edges) {
        const w = x === v ? y : y === v ? x : -1
        if (w >= 0 && dist[w] === Number.POSITIVE_INFINITY) {
          dist[w] = dist[v] + 1
          queue.push(w)
        }
      }
    return dist
  }
  const neighbours: string[][] = Array.from({ length: NODES }, () => [])
  for (const [x, y] of edges) {
    neighbours[x].push(ids[y])
    neighbours[y].push(ids[x])
  }
  await Promise.all(
    workers.map((w) =>
      request(
        w,
        {
          type: 'wire',
          neighbours: neighbours.slice(w.offset, w.offset + w.count),
          songs: songsOf.slice(w.offset, w.offset + w.count),
          dials: edges
            .filter(([x]) => workerOf(x) === w)
            .map(([x, y]) => ({ local: x - w.offset, addr: addrs[y], peer: ids[y] })),
        },
        'wired',
      ),
    ),
  )
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const allStats = async () => {
    const replies = await Promise.all(workers.map((w) => request(w, { type: 'stats' }, 'stats')))
    const totals = { queryMessagesSent: 0, resultMessagesSent: 0 }
    const degrees: number[] = []
    let lagP99 = 0
    for (const r of replies) {
      const t = r.totals as typeof totals
      totals.queryMessagesSent += t.queryMessagesSent
      totals.resultMessagesSent += t.resultMessagesSent
      degrees.push(...(r.degrees as number[]))
      lagP99 = Math.max(lagP99, r.eventLoopLagP99Ms as number)
    }
    return { totals, degrees, lagP99 }
  }

  let qid = 0
  const rows = []
  for (let ttl = 1; ttl <= 5; ttl++) {
    // Re-dial overlay edges that dropped (a starved event loop can fail libp2p's keep-alive pings).
    const repaired = await Promise.all(workers.map((w) => request(w, { type: 'repair' }, 'repaired')))
    const redialled = repaired.reduce((acc, r) => acc + (r.redialled as number), 0)
    if (redialled > 0) console.log(`  (re-dialled ${redialled} dropped overlay edges)`)
    const before = await allStats()
    const found: number[] = []
    const foundWithin1s: number[] = []
    // The share of holders a perfect flood could reach: at most `ttl` hops away in the overlay.
    const inReach: number[] = []
    const first: number[] = []
    const last: number[] = []
    const plan = Array.from({ length: QUERIES }, () => ({ origin: pick(NODES), song: pick(SONGS) }))
    const runOne = async ({ origin, song }: (typeof plan)[number]) => {
      const expected = holders[song].filter((h) => h !== origin).map((h) => ids[h])
      if (expected.length === 0) return
      const hops = hopsFrom(origin)
      inReach.push(holders[song].filter((h) => h !== origin && hops[h] <= ttl).length / expected.length)
      const worker = workerOf(origin)
      const id = qid++
      const times = await new Promise<number[]>((resolve) => {
        worker.answers.set(id, resolve)
        worker.child.send({
          type: 'query',
          qid: id,
          origin: origin - worker.offset,
          text: songs[song].title,
          cid: cidOf(songs[song]),
          expected,
          ttl,
          timeoutMs: TIMEOUT_MS,
        } satisfies WorkerCommand)
      })
      found.push(times.length / expected.length)
      foundWithin1s.push(times.filter((ms) => ms <= 1_000).length / expected.length)
      if (times.length > 0) {
        first.push(Math.min(...times))
        last.push(Math.max(...times))
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
    const after = await allStats()
    const queries = found.length
    const queryMessages = (after.totals.queryMessagesSent - before.totals.queryMessagesSent) / queries
    const resultMessages = (after.totals.resultMessagesSent - before.totals.resultMessagesSent) / queries
    let bound = 0
    for (let k = 1; k <= ttl; k++) bound += DEGREE * (DEGREE - 1) ** (k - 1)
    bound = Math.min(bound, NODES * DEGREE)
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    const row = {
      ttl,
      queries,
      meanDegree: round(mean(after.degrees)),
      holdersFoundShare: Math.round(100 * mean(found)) / 100,
      holdersWithinTtlHopsShare: Math.round(100 * mean(inReach)) / 100,
      holdersFoundWithin1sShare: Math.round(100 * mean(foundWithin1s)) / 100,
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
      queryMessagesOverBound: Math.round((100 * queryMessages) / bound) / 100,
      eventLoopLagP99Ms: round(after.lagP99),
      // The machine's 1-minute load average when this TTL's queries ended (the machine is shared).
      loadAverage1m: round(loadavg()[0]),
    }
    rows.push(row)
    console.log(
      `TTL ${ttl}: found ${(row.holdersFoundShare * 100).toFixed(0)}% (≤1 s ${(row.holdersFoundWithin1sShare * 100).toFixed(0)}%; within ${ttl} hops ${(row.holdersWithinTtlHopsShare * 100).toFixed(0)}%)` +
        ` | first ${row.firstResultMs.median} ms [${row.firstResultMs.p10}–${row.firstResultMs.p90}]` +
        ` | last ${row.lastResultMs.median} ms [${row.lastResultMs.p10}–${row.lastResultMs.p90}]` +
        ` | query msgs/query ${row.queryMessagesPerQuery} vs flooding bound ${bound} (${row.queryMessagesOverBound}×)` +
        ` + result msgs ${row.resultMessagesPerQuery} | degree ${row.meanDegree} | event-loop lag p99 ${row.eventLoopLagP99Ms} ms | load ${row.loadAverage1m}`,
    )
  }
  const ttl4 = rows.find((r) => r.ttl === 4)
  const goalMet = (ttl4?.holdersFoundWithin1sShare ?? 0) >= 0.95
  console.log(`goal (≥ 95 % of holders within 1 s at TTL 4): ${goalMet ? 'met' : 'NOT met'}`)
  await mkdir('bench/results', { recursive: true })
  await writeFile(
    'bench/results/search.json',
    `${JSON.stringify({ seed: SEED, nodes: NODES, processes: workers.length, degree: DEGREE, copies: COPIES, songs: SONGS, timeoutMs: TIMEOUT_MS, goalMet, rows }, null, 2)}\n`,
  )
  for (const w of workers) w.child.send({ type: 'stop' } satisfies WorkerCommand)
}

/** The content id the fake library gives a song. */
function cidOf(s: { title: string; artist: string; album: string }): string {
  return fakeSong(s.title, s.artist, s.album).cid
}

await main()
