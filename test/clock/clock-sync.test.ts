// Clock sync over real libp2p on loopback: a member estimates a host clock that is offset and drifting to within 1 ms; the reference's own party time; failover keeps party time continuous.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { createClockSync } from '../../src/clock/clock-sync.ts'
import { handleClockProtocol } from '../../src/clock/protocol.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { type Clock, monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'

const nodes: TuttiLibp2p[] = []
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
})

async function node(): Promise<TuttiLibp2p> {
  const n = await createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 })
  nodes.push(n)
  return n
}

/** The host's clock: 5.25 s ahead of ours and running 300 ppm fast. */
const origin = monotonicClock.now()
const hostClock: Clock = {
  now: () => monotonicClock.now() + 5250.25 + 300e-6 * (monotonicClock.now() - origin),
}

test('a member estimates a shifted, drifting host clock over loopback to within 1 ms', async () => {
  const host = await node()
  const member = await node()
  await member.dial(host.getMultiaddrs()[0])
  const unhandle = await handleClockProtocol(host, hostClock)
  const sync = createClockSync(
    {
      reference: host.peerId,
      intervalMs: 50,
      stableIntervalMs: 50,
      estimator: { bucketMs: 100, minDriftSpanMs: 1500 },
    },
    { libp2p: member, clock: monotonicClock },
  )
  assert.equal(sync.partyNow(), undefined, 'no party time before the first exchange')
  sync.start()
  try {
    let exchanges = 0
    sync.on('estimate', () => exchanges++)
    await waitFor(() => exchanges >= 8, 'the start-up burst')
    // The burst alone gives the offset (drift is not fitted yet), within the uncertainty it reports.
    const early = (sync.partyNow() as number) - hostClock.now()
    const earlyBound = (sync.estimate()?.uncertaintyMs as number) + 0.1
    assert.ok(Math.abs(early) <= earlyBound, `after the burst: ${early} ms, bound ${earlyBound}`)
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const local = monotonicClock.now()
    const error = sync.toParty(local) - (local + 5250.25 + 300e-6 * (local - origin))
    const estimate = sync.estimate()
    assert.ok(estimate)
    console.log(
      `loopback: error ${error.toFixed(4)} ms, uncertainty ${estimate.uncertaintyMs.toFixed(4)} ms, drift ${estimate.driftPpm.toFixed(1)} ppm, ${estimate.samples} samples`,
    )
    assert.ok(Math.abs(error) < 1, `party time off by ${error} ms`)
    assert.ok(Math.abs(sync.toLocal(sync.toParty(local)) - local) < 1e-3)
  } finally {
    await sync.stop()
    await sync.stop() // idempotent
    await unhandle()
  }
})

test('the reference itself has party time = its own clock', async () => {
  const host = await node()
  const sync = createClockSync({ reference: host.peerId }, { libp2p: host, clock: hostClock })
  sync.start()
  const before = hostClock.now()
  const party = sync.partyNow() as number
  assert.ok(party >= before && party <= hostClock.now())
  assert.deepEqual(
    { offsetMs: sync.estimate()?.offsetMs, uncertaintyMs: sync.estimate()?.uncertaintyMs },
    { offsetMs: 0, uncertaintyMs: 0 },
  )
  await sync.stop()
})

test('a member that becomes the reference carries party time on without a jump', async () => {
  const host = await node()
  const member = await node()
  await member.dial(host.getMultiaddrs()[0])
  const unhandle = await handleClockProtocol(host, hostClock)
  const sync = createClockSync({ reference: host.peerId }, { libp2p: member, clock: monotonicClock })
  sync.start()
  try {
    await waitFor(() => (sync.estimate()?.uncertaintyMs ?? 99) < 2, 'an estimate within 2 ms')
    const uncertainty = sync.estimate()?.uncertaintyMs as number
    const before = (sync.partyNow() as number) - hostClock.now()
    sync.setReference(member.peerId) // the host is gone; the member leads now
    const afterwards = (sync.partyNow() as number) - hostClock.now()
    assert.ok(Math.abs(afterwards - before) < 0.5, `jumped from ${before} to ${afterwards} ms`)
    assert.ok(Math.abs(afterwards) < uncertainty + 1, `party time off by ${afterwards} ms`)
  } finally {
    await sync.stop()
    await unhandle()
  }
})
