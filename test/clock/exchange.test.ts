// `/tutti/clock/1.0.0` over real libp2p on loopback: a member's exchanges let the estimator follow a host clock
// that is offset and drifting to within 1 ms; a hostile or silent server fails the exchange with a clear error; a
// hostile client's stream is reset and the server goes on serving.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { encode } from 'cborg'
import { ClockEstimator } from '../../src/clock/estimator.ts'
import { runClockExchanges } from '../../src/clock/exchange.ts'
import { CLOCK_PROTOCOL, handleClockProtocol } from '../../src/clock/protocol.ts'
import { ClockRequest, ClockResponse } from '../../src/clock/schema.ts'
import { FramedStream } from '../../src/net/framed.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { type Clock, monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'

const nodes: TuttiLibp2p[] = []
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
})

async function pair(): Promise<{ host: TuttiLibp2p; member: TuttiLibp2p }> {
  const options = { mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 }
  const host = await createTuttiLibp2p(options)
  const member = await createTuttiLibp2p(options)
  nodes.push(host, member)
  await member.dial(host.getMultiaddrs()[0])
  return { host, member }
}

/** The host's clock: 5.25 s ahead of ours and running 300 ppm fast. */
const origin = monotonicClock.now()
const hostClock: Clock = {
  now: () => monotonicClock.now() + 5250.25 + 300e-6 * (monotonicClock.now() - origin),
}

test('a member estimates a shifted, drifting host clock over loopback to within 1 ms', async () => {
  const { host, member } = await pair()
  const unhandle = await handleClockProtocol(host, hostClock)
  const estimator = new ClockEstimator({ bucketMs: 100, minDriftSpanMs: 1500 })
  const controller = new AbortController()
  let samples = 0
  const running = runClockExchanges(
    { libp2p: member, clock: monotonicClock },
    { reference: host.peerId, signal: controller.signal, nextDelayMs: () => 30 },
    (sample) => {
      samples++
      estimator.addSample(sample)
    },
  )
  try {
    await waitFor(() => samples >= 8, 'a burst of exchanges')
    // The burst alone gives the offset (drift is not fitted yet), within the uncertainty it reports.
    const now = monotonicClock.now()
    const early = estimator.toReference(now) - (now + 5250.25 + 300e-6 * (now - origin))
    const earlyBound = (estimator.estimate(now)?.uncertaintyMs as number) + 0.1
    assert.ok(Math.abs(early) <= earlyBound, `after the burst: ${early} ms, bound ${earlyBound}`)
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const local = monotonicClock.now()
    const error = estimator.toReference(local) - (local + 5250.25 + 300e-6 * (local - origin))
    const estimate = estimator.estimate(local)
    assert.ok(estimate)
    console.log(
      `loopback: error ${error.toFixed(4)} ms, uncertainty ${estimate.uncertaintyMs.toFixed(4)} ms, drift ${estimate.driftPpm.toFixed(1)} ppm, ${estimate.samples} samples`,
    )
    assert.ok(Math.abs(error) < 1, `party time off by ${error} ms`)
    assert.ok(Math.abs(estimate.driftPpm - 300) < 100, `drift ${estimate.driftPpm} ppm, expected ~300`)
  } finally {
    controller.abort()
    await running
    await unhandle()
  }
})

test('a server that answers the wrong exchange, or nothing, fails the exchange with a clear error', async () => {
  const { host, member } = await pair()
  await host.handle(CLOCK_PROTOCOL, async (stream) => {
    // Answers every request with seq 999.
    const framed = new FramedStream(stream, ClockRequest, ClockResponse, { maxMessageBytes: 128 })
    for await (const _ of framed.messages()) await framed.write({ seq: 999, t1: 1, t2: 2 })
  })
  const samples: unknown[] = []
  await assert.rejects(
    runClockExchanges(
      { libp2p: member, clock: monotonicClock },
      { reference: host.peerId, signal: new AbortController().signal, nextDelayMs: () => 10 },
      (s) => samples.push(s),
    ),
    /answer to 999, expected 1/,
  )
  assert.equal(samples.length, 0, 'no sample from a wrong answer')
  await host.unhandle(CLOCK_PROTOCOL)
  await host.handle(CLOCK_PROTOCOL, () => {}) // accepts the stream, never answers
  await assert.rejects(
    runClockExchanges(
      { libp2p: member, clock: monotonicClock },
      {
        reference: host.peerId,
        signal: new AbortController().signal,
        nextDelayMs: () => 10,
        exchangeTimeoutMs: 300,
      },
      (s) => samples.push(s),
    ),
  )
  assert.equal(samples.length, 0)
})

test('the clock server resets a stream that sends garbage, an oversized frame or the wrong shape, and serves the next', async () => {
  const { host, member } = await pair()
  const unhandle = await handleClockProtocol(host, hostClock)
  try {
    const hostile: Array<[string, (stream: Stream) => void]> = [
      ['undecodable CBOR', (s) => s.send(Uint8Array.from([3, 0xff, 0xff, 0xff]))],
      ['a frame over 128 bytes', (s) => s.send(Uint8Array.from([0xc8, 0x01, ...new Uint8Array(200)]))],
      ['the wrong shape', (s) => s.send(lengthPrefixed(encode({ seq: -1 })))],
    ]
    for (const [what, misbehave] of hostile) {
      const stream = await member.dialProtocol(host.peerId, CLOCK_PROTOCOL)
      misbehave(stream)
      await waitFor(() => stream.status !== 'open', `the host resets a stream that sends ${what}`)
    }
    // The server is still there for a well-behaved client.
    let samples = 0
    const controller = new AbortController()
    const running = runClockExchanges(
      { libp2p: member, clock: monotonicClock },
      { reference: host.peerId, signal: controller.signal, nextDelayMs: () => 10 },
      () => samples++,
    )
    await waitFor(() => samples >= 3, 'exchanges after the hostile streams')
    controller.abort()
    await running
  } finally {
    await unhandle()
  }
})

function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from([bytes.byteLength, ...bytes])
}
