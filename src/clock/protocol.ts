/**
 * Server side of `/tutti/clock/1.0.0`: answer every request on a stream with
 * t1 (arrival) and t2 (departure) read from the party clock. One long-lived
 * stream per client; requests are answered in order, immediately.
 */
import type { Libp2p, Stream } from '@libp2p/interface'
import { FramedStream, WireError } from '../net/framed.ts'
import type { Clock } from '../shared/clock.ts'
import { log } from '../shared/logger.ts'
import { CLOCK_MAX_MESSAGE_BYTES, ClockRequest, ClockResponse } from './schema.ts'

export const CLOCK_PROTOCOL = '/tutti/clock/1.0.0'

const logger = log('clock')

/**
 * Serve the party clock. `partyClock.now()` must return party time: for the
 * host its own clock; for a member that took over, its estimate of the old
 * reference (so the party clock never jumps). Returns a function that stops serving.
 */
export async function handleClockProtocol(
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>,
  partyClock: Clock,
): Promise<() => Promise<void>> {
  await libp2p.handle(CLOCK_PROTOCOL, (stream) => serveClockStream(stream, partyClock), {
    runOnLimitedConnection: true,
    maxInboundStreams: 8,
  })
  return async () => {
    await libp2p.unhandle(CLOCK_PROTOCOL).catch(() => {})
  }
}

export async function serveClockStream(stream: Stream, partyClock: Clock): Promise<void> {
  const framed = new FramedStream(stream, ClockRequest, ClockResponse, {
    maxMessageBytes: CLOCK_MAX_MESSAGE_BYTES,
  })
  try {
    while (true) {
      const request = await framed.read()
      const t1 = partyClock.now()
      if (request === undefined) break
      await framed.write({ seq: request.seq, t1, t2: partyClock.now() })
    }
    await framed.close()
  } catch (err) {
    if (err instanceof WireError) logger('malformed clock request: %s', err.message)
    framed.abort(err as Error)
  }
}
