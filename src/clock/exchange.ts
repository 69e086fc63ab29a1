/**
 * The client half of `/tutti/clock/1.0.0`: one long-lived stream to the time
 * reference, four-timestamp exchanges on it at a cadence the caller chooses.
 * A stream of its own, not the party session, so samples never queue behind a
 * snapshot or a burst of log entries (that wait would read as network delay).
 *
 * And a connection of its own, to the same address as the one already open:
 * one TCP connection delivers bytes in order, so behind a song download a
 * reply waits for every earlier segment (the slowest of them under jitter,
 * a retransmission after a loss) — delay on one direction only, which no
 * two-way exchange can tell from offset. Measured on the delay lab
 * (bench:sync): members were off by 2–3 ms on the shared connection.
 * Falls back to the shared connection when a second one cannot be opened.
 */
import type { Connection, Libp2p, PeerId } from '@libp2p/interface'
import { FramedStream } from '../net/framed.ts'
import type { Clock } from '../shared/clock.ts'
import { log } from '../shared/logger.ts'
import { ClockExchangeError } from './errors.ts'
import type { ClockSample } from './estimator.ts'
import { CLOCK_PROTOCOL } from './protocol.ts'
import { CLOCK_MAX_MESSAGE_BYTES, ClockRequest, ClockResponse } from './schema.ts'

const logger = log('clock:exchange')
const OWN_CONNECTION_TRIES = 3

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
  components: { libp2p: Pick<Libp2p, 'dialProtocol' | 'dial' | 'getConnections'>; clock: Clock },
  init: ClockExchangeInit,
  onSample: (sample: ClockSample) => void,
): Promise<void> {
  const { libp2p, clock } = components
  const { signal } = init
  const timeoutMs = init.exchangeTimeoutMs ?? 2000
  const own = await ownConnection(libp2p, init.reference, signal)
  const stream = await (own === undefined
    ? libp2p.dialProtocol(init.reference, CLOCK_PROTOCOL, { signal, runOnLimitedConnection: true })
    : own.newStream(CLOCK_PROTOCOL, { signal, runOnLimitedConnection: true }))
  const framed = new FramedStream(stream, ClockResponse, ClockRequest, {
    maxMessageBytes: CLOCK_MAX_MESSAGE_BYTES,
  })
  let seq = 0
  try {
    while (!signal.aborted) {
      seq += 1
      const exchangeSignal = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
      const t0 = clock.now()
      await framed.write({ seq }, { signal: exchangeSignal })
      const response = await framed.read({ signal: exchangeSignal })
      const t3 = clock.now()
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
    await framed.close().catch(() => {})
    await own?.close().catch(() => {})
  }
}

/**
 * A fresh connection to `peer`: to the address of an open connection we
 * dialled (the same path), else to its known addresses (an inbound
 * connection's remote port is the peer's ephemeral one). Undefined when none
 * can be opened.
 */
async function ownConnection(
  libp2p: Pick<Libp2p, 'dial' | 'getConnections'>,
  peer: PeerId,
  signal: AbortSignal,
): Promise<Connection | undefined> {
  const open = libp2p.getConnections(peer).filter((c) => c.status === 'open' && c.limits === undefined)
  if (open.length === 0) return undefined
  const outbound = open.find((c) => c.direction === 'outbound')
  const target =
    outbound === undefined
      ? peer
      : outbound.remoteAddr.getComponents().some((c) => c.name === 'p2p')
        ? outbound.remoteAddr
        : outbound.remoteAddr.encapsulate(`/p2p/${peer}`)
  let reason = ''
  // A few tries: a dial racing the peer's own start-up work has failed once in a while (stream closed mid-handshake).
  for (let attempt = 0; attempt < OWN_CONNECTION_TRIES; attempt++) {
    try {
      const own = await libp2p.dial(target, { force: true, signal })
      logger('clock connection of its own to %s at %a', peer, own.remoteAddr)
      return own
    } catch (err) {
      signal.throwIfAborted()
      reason = (err as Error).message
      await sleep(250, signal)
    }
  }
  logger('no connection of its own to %s, sampling on the shared one: %s', peer, reason)
  return undefined
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
