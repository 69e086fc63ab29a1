// The `/tutti/clock/1.0.0` server on a stand-in stream: it answers inside the message event (so the answer is sent
// before anything the muxer does after delivering the request), reassembles requests split across chunks, answers
// several in one chunk in order, and resets a client that keeps asking without reading.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Stream, StreamMessageEvent } from '@libp2p/interface'
import { decode, encode } from 'cborg'
import { serveClockStream } from '../../src/clock/protocol.ts'

class StandInStream extends EventTarget {
  sent: Uint8Array[] = []
  writeBufferLength = 0
  aborted: Error | undefined
  send(data: { subarray(): Uint8Array }): boolean {
    const bytes = data.subarray()
    this.sent.push(bytes)
    return true
  }
  abort(err: Error): void {
    this.aborted = err
  }
  async close(): Promise<void> {}
  deliver(bytes: number[] | Uint8Array): void {
    this.dispatchEvent(new StreamMessageEvent(Uint8Array.from(bytes)))
  }
}

const frame = (message: unknown) => {
  const body = encode(message)
  return [body.byteLength, ...body]
}
const answers = (stream: StandInStream) =>
  stream.sent.map((b) => decode(b.subarray(1)) as { seq: number; t1: number; t2: number })

test('answers are sent from inside the message event, in order, whatever the chunking', () => {
  const stream = new StandInStream()
  let now = 1_000
  serveClockStream(stream as unknown as Stream, { now: () => now++ })
  const first = frame({ seq: 1 })
  stream.deliver(first.slice(0, 2))
  assert.equal(stream.sent.length, 0, 'half a request is not answered')
  stream.deliver(first.slice(2))
  assert.equal(stream.sent.length, 1, 'answered before the event returned')
  stream.deliver([...frame({ seq: 2 }), ...frame({ seq: 3 })])
  assert.deepEqual(
    answers(stream).map((a) => a.seq),
    [1, 2, 3],
  )
  const [a1] = answers(stream)
  // Each delivery reads the clock once on arrival (1000 for the half, 1001 for the rest), before any decoding.
  assert.equal(a1.t1, 1_001, 't1 is when the bytes that completed the request arrived')
  assert.ok(a1.t2 > a1.t1)
  assert.equal(stream.aborted, undefined)
})

test('a client that keeps asking without reading the answers is reset', () => {
  const stream = new StandInStream()
  serveClockStream(stream as unknown as Stream, { now: () => 0 })
  stream.deliver(frame({ seq: 1 }))
  assert.equal(stream.aborted, undefined)
  stream.writeBufferLength = 65 * 1024 // the muxer is holding 65 KiB of answers the client has not taken
  stream.deliver(frame({ seq: 2 }))
  assert.match(String((stream.aborted as Error | undefined)?.message), /not being read/)
  const answered = stream.sent.length
  stream.deliver(frame({ seq: 3 }))
  assert.equal(stream.sent.length, answered, 'nothing more is answered on a reset stream')
})
