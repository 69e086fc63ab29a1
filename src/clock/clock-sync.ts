/**
 * Client side of the party clock: keeps one long-lived `/tutti/clock/1.0.0`
 * stream to the reference (the host), does a burst of exchanges at start so a
 * usable estimate exists within a quarter of a second, then polls every 2 s,
 * backing off to 5 s once the estimate is tight. Samples go into the pure
 * ClockEstimator; this shell only does I/O and timing.
 *
 * "Party time" is the reference's clock. A node that is the reference has
 * party time = its own clock.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { FramedStream } from '../net/framed.ts'
import type { Clock } from '../shared/clock.ts'
import { TypedEmitter } from '../shared/events.ts'
import { log } from '../shared/logger.ts'
import { ClockExchangeError } from './errors.ts'
import { type ClockEstimate, ClockEstimator, type ClockEstimatorOptions } from './estimator.ts'
import { CLOCK_PROTOCOL } from './protocol.ts'
import { CLOCK_MAX_MESSAGE_BYTES, ClockRequest, ClockResponse } from './schema.ts'

const logger = log('clock')

export interface ClockSyncInit {
  reference: PeerId
  /** Exchanges in the start-up burst. Default 8. */
  burstCount?: number
  /** Spacing of burst exchanges, ms. Default 30. */
  burstIntervalMs?: number
  /** Poll interval while converging, ms. Default 2000. */
  intervalMs?: number
  /** Poll interval once stable (uncertainty below `stableBelowMs`), ms. Default 5000. */
  stableIntervalMs?: number
  stableBelowMs?: number
  /** An exchange not answered within this is abandoned (and the stream redialled). Default 2000. */
  exchangeTimeoutMs?: number
  estimator?: ClockEstimatorOptions
}

export interface ClockSyncComponents {
  libp2p: Pick<Libp2p, 'peerId' | 'dialProtocol'>
  clock: Clock
}

export interface ClockSyncEvents extends Record<string, unknown> {
  /** A new estimate after each accepted sample. */
  estimate: ClockEstimate
}

export interface ClockSync {
  start(): void
  stop(): Promise<void>
  /** Party time now, or undefined until the first exchange completed. */
  partyNow(): number | undefined
  /** Party time → local clock time (identity until synced). */
  toLocal(partyMs: number): number
  /** Local clock time → party time (identity until synced). */
  toParty(localMs: number): number
  /** Offset, drift and uncertainty now; for the reference itself: zero everything. */
  estimate(): ClockEstimate | undefined
  /** Follow a new reference (host failover). The old mapping stays in use until the new one has a burst behind it. */
  setReference(peerId: PeerId): void
  /** A Clock that reads party time (falls back to the local clock before sync): serve it when this node becomes the reference. */
  readonly partyClock: Clock
  isReference(): boolean
  on<K extends keyof ClockSyncEvents>(type: K, listener: (payload: ClockSyncEvents[K]) => void): () => void
}

export function createClockSync(init: ClockSyncInit, components: ClockSyncComponents): ClockSync {
  const { libp2p, clock } = components
  const burstCount = init.burstCount ?? 8
  const burstIntervalMs = init.burstIntervalMs ?? 30
  const intervalMs = init.intervalMs ?? 2000
  const stableIntervalMs = init.stableIntervalMs ?? 5000
  const stableBelowMs = init.stableBelowMs ?? 2
  const exchangeTimeoutMs = init.exchangeTimeoutMs ?? 2000
  const events = new TypedEmitter<ClockSyncEvents>()

  let reference = init.reference
  let estimator = new ClockEstimator(init.estimator)
  /** The previous reference's estimator, used until the new one is ready (failover keeps the same party clock). */
  let fallback: ClockEstimator | undefined
  let newSamples = 0
  let controller: AbortController | undefined
  let loop: Promise<void> | undefined
  let generation = 0

  /**
   * Party time when we are the reference: our own clock, unless we took over
   * from another reference — then our last estimate of its clock, frozen, so
   * party time carries on without a jump.
   */
  let ownMapping: ClockEstimator | undefined

  const isReference = () => reference.equals(libp2p.peerId)
  const mapping = (): ClockEstimator | undefined => {
    if (isReference()) return ownMapping
    if (fallback !== undefined && newSamples < burstCount) return fallback
    return estimator.estimate() === undefined ? undefined : estimator
  }

  async function runLoop(signal: AbortSignal, myGeneration: number): Promise<void> {
    let seq = 0
    let failures = 0
    while (!signal.aborted && myGeneration === generation) {
      if (isReference()) return
      let framed: FramedStream<ClockResponse, ClockRequest> | undefined
      try {
        const stream = await libp2p.dialProtocol(reference, CLOCK_PROTOCOL, {
          signal,
          runOnLimitedConnection: true,
        })
        framed = new FramedStream(stream, ClockResponse, ClockRequest, {
          maxMessageBytes: CLOCK_MAX_MESSAGE_BYTES,
        })
        let inBurst = burstCount
        while (!signal.aborted && myGeneration === generation) {
          const t0 = clock.now()
          seq += 1
          const exchangeSignal = AbortSignal.any([signal, AbortSignal.timeout(exchangeTimeoutMs)])
          await framed.write({ seq }, { signal: exchangeSignal })
          const response = await framed.read({ signal: exchangeSignal })
          const t3 = clock.now()
          if (response === undefined) throw new ClockExchangeError('reference closed the clock stream')
          if (response.seq !== seq) throw new ClockExchangeError(`answer to ${response.seq}, expected ${seq}`)
          if (estimator.addSample({ t0, t1: response.t1, t2: response.t2, t3 })) {
            newSamples += 1
            if (newSamples >= burstCount) fallback = undefined
            const current = estimator.estimate(t3)
            if (current !== undefined) events.emit('estimate', current)
          }
          failures = 0
          let wait: number
          if (inBurst > 1) {
            inBurst -= 1
            wait = burstIntervalMs
          } else {
            const uncertainty = estimator.estimate(clock.now())?.uncertaintyMs ?? Number.POSITIVE_INFINITY
            wait = uncertainty < stableBelowMs && newSamples > burstCount * 2 ? stableIntervalMs : intervalMs
          }
          await sleep(wait, signal)
        }
      } catch (err) {
        if (signal.aborted) break
        failures += 1
        logger('clock exchange with %p failed (%d): %s', reference, failures, (err as Error).message)
        framed?.abort(err as Error)
        framed = undefined
        await sleep(Math.min(10_000, 250 * 2 ** Math.min(failures, 6)), signal).catch(() => {})
      } finally {
        await framed?.close()
      }
    }
  }

  function restart(): void {
    if (controller === undefined) return
    generation += 1
    controller.abort()
    controller = new AbortController()
    const signal = controller.signal
    loop = runLoop(signal, generation).catch(() => {})
  }

  const toParty = (localMs: number): number => mapping()?.toReference(localMs) ?? localMs

  return {
    start() {
      if (controller !== undefined) return
      controller = new AbortController()
      const signal = controller.signal
      loop = runLoop(signal, generation).catch(() => {})
    },
    async stop() {
      if (controller === undefined) return
      controller.abort()
      controller = undefined
      await loop
      loop = undefined
    },
    partyNow() {
      const m = mapping()
      if (m === undefined) return isReference() ? clock.now() : undefined
      return m.toReference(clock.now())
    },
    toParty,
    toLocal(partyMs) {
      return mapping()?.toLocal(partyMs) ?? partyMs
    },
    estimate() {
      const now = clock.now()
      const m = mapping()
      if (m === undefined && isReference()) {
        return { offsetMs: 0, driftPpm: 0, uncertaintyMs: 0, samples: 0, atLocalMs: now }
      }
      return m?.estimate(now)
    },
    setReference(peerId) {
      if (peerId.equals(reference)) return
      // Party time as we know it now stays the party time: the new reference continues it.
      const current = mapping()
      if (peerId.equals(libp2p.peerId)) {
        ownMapping = current
      } else {
        fallback = current
      }
      reference = peerId
      estimator = new ClockEstimator(init.estimator)
      newSamples = 0
      restart()
    },
    partyClock: { now: () => toParty(clock.now()) },
    isReference,
    on: (type, listener) => events.on(type, listener),
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
