/**
 * One node of the swarm benchmark, in its own process (forked by bench/swarm.ts,
 * driven over IPC): a libp2p host with the swarm and a minimal in-memory
 * library. Also serves and fetches a bare libp2p stream for the baseline.
 */
import { closeSync, openSync, readSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { hashFile } from '../src/library/content-id.ts'
import { createTuttiLibp2p } from '../src/net/libp2p.ts'
import { monotonicClock } from '../src/shared/clock.ts'
import { createSwarm } from '../src/swarm/index.ts'
import { wireStats } from '../src/swarm/wire.ts'
import { FakeLibrary } from '../test/swarm/helpers.ts'
import { verifiedSink } from './lib/verified-sink.ts'

const RAW_PROTOCOL = '/tutti/bench-raw/1.0.0'

export type NodeCommand =
  | {
      cmd: 'init'
      dataDir: string
      songPath?: string
      /** A second song for the pair's warm run: the leecher's second download, in the same processes. */
      warmSongPath?: string
      uploadRateBytes?: number
      downloadRateBytes?: number
      uploadSlots?: number
    }
  | { cmd: 'download'; cid: string; providers: string[] }
  /** The baseline; with `verify`, the bytes go through a `verifiedSink` (the song's manifest, hashes in base64). */
  | {
      cmd: 'raw'
      addr: string
      bytes: number
      verify?: { cid: string; size: number; pieceSize: number; pieceHashes: string }
    }
  | { cmd: 'cpu' }
  /** Start or stop this node's CPU profile (BENCH_PROF_DOWNLOAD: the pair's seeder, for the download alone). */
  | { cmd: 'profile'; on: boolean }
  | { cmd: 'connect'; addrs: string[] }
  /** Connect to an unrelated peer (a throwaway node in this process) a few times, then stop it. */
  | { cmd: 'warm-up' }
  | { cmd: 'exit' }

export type NodeReply =
  | { type: 'ready'; addr: string; cid?: string; warmCid?: string }
  /** `ms` from the call to done; `firstPieceMs`/`lastPieceMs` when the first and last piece were verified. */
  | { type: 'done'; ms: number; firstPieceMs: number; lastPieceMs: number }
  | { type: 'raw-done'; ms: number }
  | { type: 'rss'; maxRssBytes: number; cpuMs: number }
  | { type: 'cpu'; cpuMs: number }
  | { type: 'connected' }
  | { type: 'warm' }
  | { type: 'error'; message: string }

const send = (reply: NodeReply): void => {
  process.send?.(reply)
}

async function main(): Promise<void> {
  const init = await new Promise<Extract<NodeCommand, { cmd: 'init' }>>((resolve) =>
    process.once('message', (m) => resolve(m as Extract<NodeCommand, { cmd: 'init' }>)),
  )
  await mkdir(init.dataDir, { recursive: true })
  const libp2p = await createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 })
  // The in-memory Library the swarm tests use: the bench measures the swarm, not the sqlite index.
  const library = new FakeLibrary()
  const share = async (path: string | undefined): Promise<string | undefined> => {
    if (path === undefined) return undefined
    const hashed = await hashFile(path)
    library.add(path, hashed.cid, hashed.manifest)
    return hashed.cid
  }
  const cid = await share(init.songPath)
  const warmCid = await share(init.warmSongPath)
  const swarm = createSwarm(
    {
      dataDir: init.dataDir,
      downloadDir: join(init.dataDir, 'music'),
      dht: false,
      uploadRateBytes: init.uploadRateBytes,
      downloadRateBytes: init.downloadRateBytes,
      uploadSlots: init.uploadSlots,
    },
    { libp2p, library, clock: monotonicClock },
  )
  await swarm.start()
  const connEvents = { open: 0, close: 0 }
  libp2p.addEventListener('connection:open', () => connEvents.open++)
  libp2p.addEventListener('connection:close', () => connEvents.close++)
  if (process.env.BENCH_DEBUG !== undefined) {
    const me = libp2p.peerId.toString().slice(-4)
    setInterval(() => {
      for (const d of swarm.list()) {
        process.stderr.write(
          `[${me}] ${d.percent.toFixed(0)}% ${(d.rateBps / 1024).toFixed(0)}k/s ${describeSources(d.sources)}\n`,
        )
      }
    }, 1000).unref()
  }
  // Baseline: push `bytes` down a bare stream as fast as it drains: zeros, or (asked with a 1 after
  // the length) the song itself, read from its file as the swarm's seeder reads it, for a verifying sink.
  await libp2p.handle(RAW_PROTOCOL, async (stream) => {
    let head: Uint8Array = new Uint8Array(5)
    for await (const chunk of stream) {
      head = chunk.subarray()
      break
    }
    const want = new DataView(head.buffer, head.byteOffset).getUint32(0)
    const fd = head[4] === 1 && init.songPath !== undefined ? openSync(init.songPath, 'r') : undefined
    const zeros = new Uint8Array(64 * 1024)
    try {
      for (let sent = 0; sent < want; sent += zeros.byteLength) {
        const length = Math.min(zeros.byteLength, want - sent)
        let block = zeros.subarray(0, length)
        if (fd !== undefined) {
          block = Buffer.allocUnsafe(length)
          readSync(fd, block, 0, length, sent)
        }
        if (!stream.send(block)) {
          await new Promise((resolve) => stream.addEventListener('drain', resolve, { once: true }))
        }
      }
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
    await stream.close()
  })
  const profiler = await transferProfiler(process.env.BENCH_PROF)
  const profileDownloadsOnly = process.env.BENCH_PROF_DOWNLOAD !== undefined
  if (!profileDownloadsOnly) await profiler.start()
  send({ type: 'ready', addr: libp2p.getMultiaddrs()[0]!.toString(), cid, warmCid })

  process.on('message', (message) => {
    const m = message as NodeCommand
    if (m.cmd === 'download') {
      if (profileDownloadsOnly) void profiler.start()
      const t0 = performance.now()
      let firstPieceMs = Number.NaN
      let lastPieceMs = Number.NaN
      const off = swarm.on('piece:verified', () => {
        lastPieceMs = performance.now() - t0
        if (Number.isNaN(firstPieceMs)) firstPieceMs = lastPieceMs
      })
      const trace =
        process.env.BENCH_TRACE === undefined ? undefined : traceDownload(connEvents, swarm, libp2p, t0)
      swarm
        .download(m.cid, { providers: m.providers })
        .then(() => {
          trace?.()
          if (profileDownloadsOnly) void profiler.stop()
          off()
          send({ type: 'done', ms: performance.now() - t0, firstPieceMs, lastPieceMs })
        })
        .catch((err: Error) => send({ type: 'error', message: err.message }))
    } else if (m.cmd === 'raw') {
      void (async () => {
        const t0 = performance.now()
        const stream = await libp2p.dialProtocol(multiaddr(m.addr), RAW_PROTOCOL)
        const head = new Uint8Array(5)
        new DataView(head.buffer).setUint32(0, m.bytes)
        head[4] = m.verify === undefined ? 0 : 1
        stream.send(head)
        const v = m.verify
        const sink =
          v === undefined
            ? undefined
            : verifiedSink(join(init.dataDir, 'verified-sink'), v.cid, {
                size: v.size,
                pieceSize: v.pieceSize,
                pieceHashes: Buffer.from(v.pieceHashes, 'base64'),
              })
        let got = 0
        for await (const chunk of stream) {
          got += chunk.byteLength
          if (sink !== undefined)
            for (const bytes of chunk instanceof Uint8Array ? [chunk] : chunk) sink.write(bytes)
          if (got >= m.bytes) break
        }
        await sink?.end()
        send({ type: 'raw-done', ms: performance.now() - t0 })
      })().catch((err: Error) => send({ type: 'error', message: err.message }))
    } else if (m.cmd === 'connect') {
      const mine = libp2p.getMultiaddrs()[0]!.toString()
      void Promise.allSettled(m.addrs.filter((a) => a !== mine).map((a) => libp2p.dial(multiaddr(a))))
        .then(() => send({ type: 'connected' }))
        .catch((err: Error) => send({ type: 'error', message: err.message }))
    } else if (m.cmd === 'warm-up') {
      warmUp(libp2p)
        .then(() => send({ type: 'warm' }))
        .catch((err: Error) => send({ type: 'error', message: err.message }))
    } else if (m.cmd === 'profile') {
      void (m.on ? profiler.start() : profiler.stop())
    } else if (m.cmd === 'cpu') {
      send({ type: 'cpu', cpuMs: cpuMsSoFar() })
    } else if (m.cmd === 'exit') {
      if (process.env.BENCH_DEBUG !== undefined) {
        const conns = libp2p.getConnections()
        const peers = new Set(conns.map((c) => c.remotePeer.toString()))
        process.stderr.write(
          `[${libp2p.peerId.toString().slice(-4)}] wire ${JSON.stringify(wireStats)}; ${conns.length} connections to ${peers.size} peers\n`,
        )
      }
      send({
        type: 'rss',
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
        cpuMs: cpuMsSoFar(),
      })
      void profiler
        .stop()
        .then(() => swarm.stop())
        .then(() => libp2p.stop())
        .finally(() => setTimeout(() => process.exit(0), 50))
    }
  })
}

/**
 * A running node has made connections before it fetches anything (LAN, DHT),
 * so its connection code is compiled and optimised; a fresh process pays for
 * that inside its first download. Three connections, each held while identify
 * and the DHT's first exchange run, to a peer that never learns of the others.
 */
async function warmUp(libp2p: Awaited<ReturnType<typeof createTuttiLibp2p>>): Promise<void> {
  const other = await createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 })
  try {
    for (let i = 0; i < 3; i++) {
      const connection = await libp2p.dial(other.getMultiaddrs()[0]!)
      await new Promise((resolve) => setTimeout(resolve, 300))
      await connection.close()
    }
  } finally {
    await other.stop()
  }
}

/** CPU this process has used so far (ms). */
function cpuMsSoFar(): number {
  const u = process.resourceUsage()
  return (u.userCPUTime + u.systemCPUTime) / 1000
}

/** A download's sources for the diagnostics: id tail, rate in KiB/s, `C` while it chokes us. */
function describeSources(
  sources: ReturnType<ReturnType<typeof createSwarm>['list']>[number]['sources'],
): string {
  return sources
    .map((s) => `${s.peerId.slice(-4)}:${(s.rateBps / 1024).toFixed(0)}k${s.choked ? 'C' : ''}`)
    .join(' ')
}

/**
 * The node's connections now, and those to a peer it has more than one
 * connection to (a dial crossed one from the other side): direction, when it
 * opened (ms after `t0`) and the protocols of its open streams.
 */
function describeConnections(libp2p: Awaited<ReturnType<typeof createTuttiLibp2p>>, t0: number): string {
  const connections = libp2p.getConnections()
  const byPeer = new Map<string, string[]>()
  for (const c of connections) {
    const k = c.remotePeer.toString().slice(-4)
    const openedAt = (c.timeline.open - performance.timeOrigin - t0).toFixed(0)
    const protocols = c.streams.map((s) => s.protocol?.split('/').slice(1, 3).join('/')).join(',')
    byPeer.set(k, [...(byPeer.get(k) ?? []), `${c.direction}@${openedAt}[${protocols}]`])
  }
  const twice = [...byPeer].filter(([, v]) => v.length > 1).map(([k, v]) => `${k}: ${v.join(' ')}`)
  return `now ${connections.length} to ${byPeer.size} peers${twice.length > 0 ? `\n  more than one connection: ${twice.join('; ')}` : ''}`
}

/** BENCH_TRACE: when the download passed each tenth, with its connection and source counts, printed at the end. */
function traceDownload(
  connEvents: { open: number; close: number },
  swarm: ReturnType<typeof createSwarm>,
  libp2p: Awaited<ReturnType<typeof createTuttiLibp2p>>,
  t0: number,
): () => void {
  const marks: string[] = []
  const linkAt = new Map<string, number>()
  const unchokeAt = new Map<string, number>()
  const firstPieceAt = new Map<string, number>()
  swarm.on('piece:verified', (e) => {
    const k = e.peerId.slice(-4)
    if (!firstPieceAt.has(k)) firstPieceAt.set(k, performance.now() - t0)
    const bin = Math.floor((performance.now() - t0) / 250)
    ramp[bin] = (ramp[bin] ?? 0) + 1
    fromBins[k] ??= []
    fromBins[k][bin] = (fromBins[k][bin] ?? 0) + 1
  })
  /** Pieces verified in each 250 ms since the start (summed over leechers: the swarm's ramp-up). */
  const ramp: number[] = []
  /** The same, per source: summed over leechers, each sender's upload over time. */
  const fromBins: Record<string, number[]> = {}
  let last = -1
  const timer = setInterval(() => {
    const d = swarm.list()[0]
    const tenth = d === undefined ? 0 : Math.floor(d.percent / 10) * 10
    for (const src of d?.sources ?? []) {
      const k = src.peerId.slice(-4)
      if (!linkAt.has(k)) linkAt.set(k, performance.now() - t0)
      if (!src.choked && !unchokeAt.has(k)) unchokeAt.set(k, performance.now() - t0)
    }
    const early = process.env.BENCH_EARLY !== undefined ? performance.now() - t0 : Infinity
    if (early < 5000 && Math.floor(early / 250) !== Math.floor((early - 20) / 250)) {
      marks.push(
        `\n  ${early.toFixed(0)}: ${d?.percent.toFixed(1)}% c${libp2p.getConnections().length} ${describeSources(d?.sources ?? [])}`,
      )
    }
    if (tenth !== last) {
      const ms = (performance.now() - t0).toFixed(0)
      marks.push(`${tenth}%@${ms}(c${libp2p.getConnections().length},s${d?.sources.length ?? 0})`)
    }
    last = tenth
  }, 20)
  return () => {
    clearInterval(timer)
    const ms = (performance.now() - t0).toFixed(0)
    const peers = [...linkAt]
      .sort((a, b) => a[1] - b[1])
      .map(
        ([k, at]) =>
          `${k}:${at.toFixed(0)}/${unchokeAt.get(k)?.toFixed(0)}/${firstPieceAt.get(k)?.toFixed(0)}`,
      )
    const perSource = Object.entries(fromBins)
      .map(([k, bins]) => `  from ${k} ${Array.from(bins, (n) => n ?? 0).join(' ')}\n`)
      .join('')
    process.stderr.write(
      `[${libp2p.peerId.toString().slice(-4)}] ${marks.join(' ')} done@${ms} conns ${JSON.stringify(connEvents)} ${describeConnections(libp2p, t0)}\n  link/unchoke/piece ${peers.join(' ')}\n  pieces per 250 ms ${Array.from(ramp, (n) => n ?? 0).join(' ')}\n${perSource}`,
    )
  }
}

/** CPU profile from ready to exit (start-up's module loading would swamp the transfer), written to `dir` on stop. */
async function transferProfiler(
  dir: string | undefined,
): Promise<{ start(): Promise<void>; stop(): Promise<void> }> {
  if (dir === undefined) return { start: async () => {}, stop: async () => {} }
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  let running = false
  return {
    async start() {
      if (running) return
      running = true
      await session.post('Profiler.start')
    },
    async stop() {
      if (!running) return
      running = false
      const { profile } = await session.post('Profiler.stop')
      await writeFile(join(dir, `transfer-${process.pid}.cpuprofile`), JSON.stringify(profile))
    },
  }
}

main().catch((err: Error) => {
  send({ type: 'error', message: err.stack ?? err.message })
  process.exit(1)
})
