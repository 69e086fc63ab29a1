/**
 * The delaying half of the netem-equivalent lab (./netem-lan.ts): a TCP
 * relay that forwards each direction of each connection after a random
 * one-way delay, uniform in [delay − jitter, delay + jitter].
 *
 * Each chunk read from a socket gets its own delay, but never leaves before
 * the chunk read before it on the same direction (departure = max(arrival +
 * delay, previous departure)): jitter varies the latency of a byte stream
 * without reordering it, as on a real path where TCP hides reordering too.
 * A direction holding more than `maxQueuedBytes` stops reading, so the
 * sender's TCP feels back-pressure instead of the relay buffering without
 * bound.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'

export interface RelayDelay {
  delayMs: number
  jitterMs: number
}

export interface RelayStats {
  chunks: number
  bytes: number
  /** One-way delays applied (sampled, ms): the intended delay plus the order-preserving wait plus timer lateness. */
  delays: number[]
  connections: number
  /** Per connection: who opened it towards which route, and what each direction carried. */
  perConnection: Array<{ from: string; to: string; up: FlowStats; down: FlowStats }>
}

export interface FlowStats {
  bytes: number
  chunks: number
  /** One-way delays applied to this direction's chunks (ms, the first few thousand). */
  delays: number[]
}

export interface RelayOptions extends RelayDelay {
  routes: Array<{ listenPort: number; host: string; port: number }>
  random: () => number
  now: () => number
  maxQueuedBytes?: number
}

export interface DelayRelay {
  start(): Promise<void>
  stop(): Promise<void>
  stats: RelayStats
}

const MAX_DELAY_SAMPLES = 200_000
const MAX_FLOW_DELAY_SAMPLES = 5_000

export function createDelayRelay(options: RelayOptions): DelayRelay {
  const stats: RelayStats = { chunks: 0, bytes: 0, delays: [], connections: 0, perConnection: [] }
  const servers: Server[] = []
  const sockets = new Set<Socket>()
  const maxQueued = options.maxQueuedBytes ?? 1 << 20

  function pipeDelayed(from: Socket, to: Socket, flow: FlowStats): void {
    const queue: Array<{ due: number; arrived: number; chunk: Buffer }> = []
    let queuedBytes = 0
    let lastDue = 0
    let ended = false
    let timer: ReturnType<typeof setTimeout> | undefined

    const flush = () => {
      timer = undefined
      const now = options.now()
      // Half a millisecond early is fine: timers fire on whole milliseconds.
      while (queue.length > 0 && queue[0].due <= now + 0.5) {
        const item = queue.shift() as (typeof queue)[number]
        queuedBytes -= item.chunk.length
        if (stats.delays.length < MAX_DELAY_SAMPLES) stats.delays.push(now - item.arrived)
        if (flow.delays.length < MAX_FLOW_DELAY_SAMPLES) flow.delays.push(now - item.arrived)
        if (!to.destroyed) to.write(item.chunk)
      }
      if (queue.length === 0 && ended) to.end()
      if (from.isPaused() && queuedBytes + to.writableLength < maxQueued / 2) from.resume()
      schedule()
    }
    const schedule = () => {
      if (timer !== undefined || queue.length === 0) return
      timer = setTimeout(flush, Math.max(0, queue[0].due - options.now()))
    }
    from.on('data', (chunk: Buffer) => {
      const arrived = options.now()
      const delay = options.delayMs + (options.random() * 2 - 1) * options.jitterMs
      const due = Math.max(arrived + delay, lastDue)
      lastDue = due
      queue.push({ due, arrived, chunk })
      queuedBytes += chunk.length
      stats.chunks += 1
      stats.bytes += chunk.length
      flow.chunks += 1
      flow.bytes += chunk.length
      if (queuedBytes + to.writableLength >= maxQueued) from.pause()
      schedule()
    })
    to.on('drain', () => {
      if (from.isPaused() && queuedBytes + to.writableLength < maxQueued / 2) from.resume()
    })
    from.on('end', () => {
      ended = true
      if (queue.length === 0) to.end()
    })
    from.on('close', () => {
      if (timer !== undefined && queue.length === 0) clearTimeout(timer)
    })
  }

  return {
    stats,
    async start() {
      for (const route of options.routes) {
        const server = createServer((inbound) => {
          stats.connections += 1
          inbound.setNoDelay(true)
          inbound.pause()
          const outbound = createConnection({ host: route.host, port: route.port }, () => {
            outbound.setNoDelay(true)
            const up = { bytes: 0, chunks: 0, delays: [] }
            const down = { bytes: 0, chunks: 0, delays: [] }
            stats.perConnection.push({
              from: String(inbound.remoteAddress),
              to: `${route.host}:${route.port}`,
              up,
              down,
            })
            pipeDelayed(inbound, outbound, up)
            pipeDelayed(outbound, inbound, down)
            inbound.resume()
          })
          for (const s of [inbound, outbound]) {
            sockets.add(s)
            s.on('close', () => sockets.delete(s))
            // A reset on one side resets the other (after what is queued would be lost anyway).
            s.on('error', () => {
              inbound.destroy()
              outbound.destroy()
            })
          }
        })
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen(route.listenPort, '0.0.0.0', () => resolve())
        })
        servers.push(server)
      }
    },
    async stop() {
      for (const s of sockets) s.destroy()
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
      servers.length = 0
    },
  }
}
