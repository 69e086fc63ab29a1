/**
 * The client half of `/tutti/clock/1.0.0`: one long-lived stream to the time
 * reference, four-timestamp exchanges on it at a cadence the caller chooses.
 * A stream of its own, not the party session, so samples never queue behind a
 * snapshot or a burst of log entries (that wait would read as network delay).
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { FramedStream } from '../net/framed.ts'
import type { Clock } from '../shared/clock.ts'
import { ClockExchangeError } from './errors.ts'
import type { ClockSample } from './estimator.ts'
import { CLOCK_PROTOCOL } from './protocol.ts'
import { CLOCK_MAX_MESSAGE_BYTES, ClockRequest, ClockResponse } from './schema.ts'

export interface ClockExchangeInit {
  reference: PeerId
  signal: AbortSignal
  /** Wait before the next exchange, ms; asked after each sample. */
  nextDelayMs: () => number
  /** An exchange not answered within this fails the stream. Default 2000. */
  exchangeTimeoutMs?: number
}

/**
 * Runs exchanges until `signal` aborts (resolves) or the stream fails
 * (rejects; the caller decides whether and when to try again).
 */
export async function runClockExchanges(
  components: { libp2p: Pick<Libp2p, 'dialProtocol'>; clock: Clock },
  init: ClockExchangeInit,
  onSample: (sample: ClockSample) => void,
): Promise<void> {
  const { libp2p, clock } = components
  const { signal } = init
  const timeoutMs = init.exchangeTimeoutMs ?? 2000
  const stream = await libp2p.dialProtocol(init.reference, CLOCK_PROTOCOL, {
    signal,
    runOnLimitedConnection: true,
  })
  const framed = new FramedStream(stream, ClockResponse, ClockRequest, {
    maxMessageBytes: CLOCK_MAX_MESSAGE_BYTES,
  })
  // t3 is when the answer's bytes reached us, not when the read loop got round to them.
  let arrivedAt = Number.NEGATIVE_INFINITY
  const onArrival = () => {
    arrivedAt = clock.now()
  }
  stream.addEventListener('message', onArrival)
  let seq = 0
  try {
    while (!signal.aborted) {
      seq += 1
      const exchangeSignal = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
      const t0 = clock.now()
      await framed.write({ seq }, { signal: exchangeSignal })
      const response = await framed.read({ signal: exchangeSignal })
      const t3 = arrivedAt >= t0 ? arrivedAt : clock.now()
      if (response === undefined) throw new ClockExchangeError('the reference closed the clock stream')
      if (response.seq !== seq) throw new ClockExchangeError(`answer to ${response.seq}, expected ${seq}`)
      onSample({ t0, t1: response.t1, t2: response.t2, t3 })
      await sleep(init.nextDelayMs(), signal)
    }
  } catch (err) {
    if (signal.aborted) return
    framed.abort(err as Error)
    throw err
  } finally {
    stream.removeEventListener('message', onArrival)
    await framed.close().catch(() => {})
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
