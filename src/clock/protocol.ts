/**
 * Server side of `/tutti/clock/1.0.0`: answer every request on a stream with
 * t1 (arrival) and t2 (departure) read from the party clock. One long-lived
 * stream per client; requests are answered in order, immediately (inside
 * the stream's message event: see `serveClockStream`).
 */
import type { Libp2p, Stream, StreamMessageEvent } from '@libp2p/interface'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { decodeMessage, encodeMessage, WireError } from '../net/framed.ts'
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

/**
 * Answers each request inside the stream's 'message' event, synchronously:
 * t1 is read the moment the bytes reach us, and the answer is handed to the
 * muxer before yamux sends its window update for the request. Answered after
 * an `await`, the answer left just behind that window update; over a jittery
 * path the two are delayed independently but delivered in order, so every
 * answer took the slower of two draws and the backward delay's floor sat
 * above the forward one: a steady offset error of 0.5–3 ms (bench:sync delay
 * profile).
 */
export function serveClockStream(stream: Stream, partyClock: Clock): void {
  const pending = new Uint8ArrayList()
  const fail = (err: Error) => {
    stream.removeEventListener('message', onMessage)
    if (err instanceof WireError) logger('malformed clock request: %s', err.message)
    stream.abort(err)
  }
  const onMessage = (event: StreamMessageEvent) => {
    const t1 = partyClock.now()
    pending.append(event.data)
    try {
      for (let frame = takeFrame(pending); frame !== undefined; frame = takeFrame(pending)) {
        const request = decodeMessage(ClockRequest, frame, CLOCK_MAX_MESSAGE_BYTES)
        const answer = encodeMessage(ClockResponse, { seq: request.seq, t1, t2: partyClock.now() })
        stream.send(new Uint8ArrayList(varint.encode(answer.byteLength), answer))
      }
      // A client that asks without reading the answers is not a clock client.
      if (stream.writeBufferLength > MAX_UNREAD_ANSWER_BYTES)
        throw new WireError('answers are not being read')
    } catch (err) {
      fail(err as Error)
    }
  }
  stream.addEventListener('message', onMessage)
  stream.addEventListener('remoteCloseWrite', () => {
    stream.removeEventListener('message', onMessage)
    void stream.close().catch(() => {})
  })
}

const MAX_UNREAD_ANSWER_BYTES = 64 * 1024

/** The next varint-length-prefixed frame in `buffer` (consumed), or undefined until it has all arrived. */
function takeFrame(buffer: Uint8ArrayList): Uint8Array | undefined {
  if (buffer.byteLength === 0) return undefined
  let length: number
  try {
    length = varint.decode(buffer)
  } catch (err) {
    // An unfinished length prefix is at most a few bytes; more than that is garbage.
    if (buffer.byteLength < 8) return undefined
    throw new WireError(`bad length prefix: ${(err as Error).message}`)
  }
  if (length > CLOCK_MAX_MESSAGE_BYTES)
    throw new WireError(`frame of ${length} bytes exceeds ${CLOCK_MAX_MESSAGE_BYTES}`)
  const start = varint.encodingLength(length)
  if (buffer.byteLength < start + length) return undefined
  const frame = buffer.subarray(start, start + length)
  buffer.consume(start + length)
  return frame
}
