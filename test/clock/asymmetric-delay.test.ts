// Clock sync through a TCP relay that delays each direction on purpose (tc netem is not available here): symmetric delay converges to < 1 ms; one-way delay biases the estimate by half the asymmetry, no more, and the reported uncertainty covers it.
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { after, type TestContext, test } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { ClockEstimator } from '../../src/clock/estimator.ts'
import { runClockExchanges } from '../../src/clock/exchange.ts'
import { handleClockProtocol } from '../../src/clock/protocol.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { type Clock, monotonicClock } from '../../src/shared/clock.ts'

const nodes: TuttiLibp2p[] = []
const servers: Server[] = []
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
  for (const s of servers) s.close()
})

/** How late the relay's timers fired: on a starved event loop the relay itself adds unplanned asymmetry. */
const relayLateness: number[] = []

/** Forward bytes to `port`, each direction delayed by its own function of time; order is preserved. */
async function delayingRelay(
  port: number,
  forwardMs: () => number,
  backwardMs: () => number,
): Promise<number> {
  const pipe = (from: Socket, to: Socket, delay: () => number) => {
    let due = 0
    // Chunks leave from the head of a queue, on one timer for the head: a timer per chunk could fire out of
    // order (Node files a timer under its whole-millisecond duration, so a later, shorter one can expire first)
    // and scramble the encrypted stream — the connection then died mid-test, now and then.
    const queue: Array<{ at: number; chunk: Buffer }> = []
    let timer: ReturnType<typeof setTimeout> | undefined
    const schedule = () => {
      if (timer !== undefined || queue.length === 0) return
      timer = setTimeout(
        () => {
          timer = undefined
          while (queue.length > 0 && queue[0].at <= performance.now() + 0.5) {
            const { at, chunk } = queue.shift() as { at: number; chunk: Buffer }
            relayLateness.push(Math.max(0, performance.now() - at))
            to.write(chunk)
          }
          schedule()
        },
        Math.max(0, queue[0].at - performance.now()),
      )
    }
    from.on('data', (chunk: Buffer) => {
      due = Math.max(due, performance.now() + delay())
      queue.push({ at: due, chunk })
      schedule()
    })
    from.on('close', () => setTimeout(() => to.destroy(), Math.max(0, due - performance.now())))
    from.on('error', () => to.destroy())
  }
  const server = createServer((client) => {
    client.setNoDelay(true)
    const upstream = tcpConnect(port, '127.0.0.1')
    upstream.setNoDelay(true)
    pipe(client, upstream, forwardMs)
    pipe(upstream, client, backwardMs)
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

/** Seeded jitter so a failure can be replayed. */
function jitter(seed: number, meanMs: number, spreadMs: number): () => number {
  let a = seed
  return () => {
    a = (a * 1_103_515_245 + 12_345) % 2 ** 31
    return meanMs + (a / 2 ** 31 - 0.5) * 2 * spreadMs
  }
}

const origin = monotonicClock.now()
const hostClock: Clock = {
  now: () => monotonicClock.now() - 31_415.9265 + 150e-6 * (monotonicClock.now() - origin),
}

async function errorThroughRelay(forwardMs: () => number, backwardMs: () => number) {
  relayLateness.length = 0
  const host = await createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 })
  const member = await createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 })
  nodes.push(host, member)
  await handleClockProtocol(host, hostClock)
  const hostPort = Number(/\/tcp\/(\d+)/.exec(host.getMultiaddrs()[0].toString())?.[1])
  const relayPort = await delayingRelay(hostPort, forwardMs, backwardMs)
  await member.dial(multiaddr(`/ip4/127.0.0.1/tcp/${relayPort}/p2p/${host.peerId}`))
  const estimator = new ClockEstimator({ bucketMs: 200 })
  const controller = new AbortController()
  const running = runClockExchanges(
    { libp2p: member, clock: monotonicClock },
    { reference: host.peerId, signal: controller.signal, nextDelayMs: () => 100 },
    (sample) => estimator.addSample(sample),
  )
  await new Promise((resolve) => setTimeout(resolve, 5000))
  const local = monotonicClock.now()
  const errorMs = estimator.toReference(local) - (local - 31_415.9265 + 150e-6 * (local - origin))
  const uncertaintyMs = estimator.estimate(local)?.uncertaintyMs as number
  controller.abort()
  await running
  const late = relayLateness.filter((ms) => ms > 1).length / Math.max(1, relayLateness.length)
  return { errorMs, uncertaintyMs, relayOnTime: late < 0.1, late }
}

/**
 * The sub-millisecond bound holds only if the relay delayed what it was told
 * to: on a machine so loaded that its timers fire late, the relay adds
 * asymmetry of its own and the bound is not checked (the test says so).
 */
function checkBound(
  t: TestContext,
  r: { relayOnTime: boolean; late: number },
  ok: boolean,
  message: string,
): void {
  if (r.relayOnTime) assert.ok(ok, message)
  else t.diagnostic(`tight bound not checked: ${(r.late * 100).toFixed(0)} % of relay writes > 1 ms late`)
}

test('symmetric 5 ± 1 ms each way: party time within 1.5 ms', async (t) => {
  const r = await errorThroughRelay(jitter(1, 5, 1), jitter(2, 5, 1))
  const { errorMs, uncertaintyMs } = r
  console.log(`symmetric: error ${errorMs.toFixed(3)} ms, uncertainty ${uncertaintyMs.toFixed(3)} ms`)
  // 1.5 ms, not 1: the relay's timers (1 ms granularity) and all three parties share one event loop.
  checkBound(t, r, Math.abs(errorMs) < 1.5, `error ${errorMs} ms (seeds 1, 2)`)
  assert.ok(Math.abs(errorMs) <= uncertaintyMs, 'within the reported uncertainty')
})

test('10 ms extra on the way to the host only: biased by half of it (+5 ms), no more', async (t) => {
  const r = await errorThroughRelay(jitter(3, 12, 1), jitter(4, 2, 1))
  const { errorMs, uncertaintyMs } = r
  console.log(`asymmetric: error ${errorMs.toFixed(3)} ms, uncertainty ${uncertaintyMs.toFixed(3)} ms`)
  // No two-way exchange can see asymmetry: θ = offset + (forward − backward)/2 = offset + 5 ms.
  checkBound(t, r, Math.abs(errorMs - 5) < 1.5, `error ${errorMs} ms, expected +5 ± 1.5 (seeds 3, 4)`)
  assert.ok(Math.abs(errorMs) <= uncertaintyMs, 'the reported uncertainty covers the bias')
})
