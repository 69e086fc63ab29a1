/**
 * One process of the search benchmark: hosts a few libp2p nodes with search,
 * wires them as the coordinator (bench/search.ts) says, and runs the queries
 * it is given. Messages over the fork IPC channel.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createTuttiLibp2p, type TuttiLibp2p } from '../src/net/libp2p.ts'
import { createSearch, type Search } from '../src/search/search.ts'
import { monotonicClock } from '../src/shared/clock.ts'
import { FakeLibrary, song } from '../test/search/fake-library.ts'

interface Node {
  libp2p: TuttiLibp2p
  library: FakeLibrary
  search: Search
  id: string
}

export type WorkerCommand =
  | { type: 'create'; count: number; measureRtt: boolean }
  | {
      type: 'wire'
      neighbours: string[][]
      songs: Array<Array<{ title: string; artist: string; album: string }>>
      dials: Array<{ local: number; addr: string; peer: string }>
    }
  | { type: 'repair' }
  | {
      type: 'query'
      qid: number
      origin: number
      text: string
      cid: string
      expected: string[]
      ttl: number
      timeoutMs: number
    }
  | { type: 'stats' }
  | { type: 'stop' }

const nodes: Node[] = []
let edges: Array<{ local: number; addr: string; peer: string }> = []
const neighbours = new Map<string, Set<string>>()
const lag = monitorEventLoopDelay({ resolution: 10 })
lag.enable()
const send = (message: unknown) => process.send?.(message)

async function create(count: number, measureRtt: boolean): Promise<void> {
  for (let i = 0; i < count; i++) {
    let self = ''
    const allowed = (peer: { toString(): string }) => neighbours.get(self)?.has(peer.toString()) ?? true
    // A connection gater pins the overlay to the coordinator's random graph (the DHT would
    // otherwise open shortcut connections, and search floods over every connection).
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
    // Generous limits: the bench measures reach, not the rate limiter.
    const search = createSearch(
      { rateLimit: { perSecond: 50, burst: 100 }, measureRtt },
      { libp2p, library, clock: monotonicClock, load: () => 0 },
    )
    await search.start()
    nodes.push({ libp2p, library, search, id: self })
  }
  send({
    type: 'created',
    nodes: nodes.map((n) => ({ id: n.id, addr: n.libp2p.getMultiaddrs()[0].toString() })),
  })
}

async function wire(command: Extract<WorkerCommand, { type: 'wire' }>): Promise<void> {
  nodes.forEach((node, i) => {
    neighbours.set(node.id, new Set(command.neighbours[i]))
    for (const s of command.songs[i]) node.library.add(song(s.title, s.artist, s.album))
  })
  edges = command.dials
  await dialAll(command.dials)
  send({ type: 'wired' })
}

/** Dials the given edges, a few at a time, skipping those already connected. */
async function dialAll(dials: typeof edges): Promise<number> {
  const { multiaddr } = await import('@multiformats/multiaddr')
  const { peerIdFromString } = await import('@libp2p/peer-id')
  const pending = dials.filter(
    (d) => nodes[d.local].libp2p.getConnections(peerIdFromString(d.peer)).length === 0,
  )
  const count = pending.length
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let d = pending.shift(); d !== undefined; d = pending.shift()) {
        for (let attempt = 1; ; attempt++) {
          try {
            await nodes[d.local].libp2p.dial(multiaddr(d.addr), { signal: AbortSignal.timeout(20_000) })
            break
          } catch (err) {
            if (attempt >= 3) throw err
          }
        }
      }
    }),
  )
  return count
}

async function query(command: Extract<WorkerCommand, { type: 'query' }>): Promise<void> {
  const expected = new Set(command.expected)
  const session = nodes[command.origin].search.search(
    { text: command.text },
    { ttl: command.ttl, timeoutMs: command.timeoutMs },
  )
  const seen = new Map<string, number>()
  for await (const hit of session) {
    if (hit.hit.cid !== command.cid || !expected.has(hit.provider.peerId)) continue
    if (!seen.has(hit.provider.peerId)) seen.set(hit.provider.peerId, hit.atMs)
    if (seen.size === expected.size) session.end()
  }
  send({ type: 'answered', qid: command.qid, times: [...seen.values()] })
}

function stats(): void {
  const totals = { queryMessagesSent: 0, resultMessagesSent: 0 }
  for (const n of nodes) {
    const s = n.search.stats()
    totals.queryMessagesSent += s.queryMessagesSent
    totals.resultMessagesSent += s.resultMessagesSent
  }
  const degrees = nodes.map(
    (n) => new Set(n.libp2p.getConnections().map((c) => c.remotePeer.toString())).size,
  )
  send({
    type: 'stats',
    totals,
    degrees,
    eventLoopLagP99Ms: lag.percentile(99) / 1e6,
    eventLoopLagMeanMs: lag.mean / 1e6,
  })
  lag.reset()
}

process.on('message', (command: WorkerCommand) => {
  const run = async () => {
    if (command.type === 'create') await create(command.count, command.measureRtt)
    else if (command.type === 'wire') await wire(command)
    else if (command.type === 'query') await query(command)
    else if (command.type === 'stats') stats()
    else if (command.type === 'repair') send({ type: 'repaired', redialled: await dialAll(edges) })
    else if (command.type === 'stop') {
      await Promise.all(
        nodes.map(async (n) => {
          await n.search.stop()
          await n.libp2p.stop()
        }),
      )
      process.exit(0)
    }
  }
  run().catch((err: Error) => send({ type: 'error', message: err.stack ?? err.message }))
})
