// The two upstream fixes in patches/ (applied by patch-package on install) are in effect.
// Each test fails on the unpatched dependency.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { logger } from '@libp2p/logger'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'

const nodeModules = join(import.meta.dirname, '..', '..', 'node_modules')

test('a length-prefixed decoder does not ask for a length it has no bytes for', () => {
  const asked: number[] = []
  const decoder = new LengthPrefixedDecoder({
    lengthDecoder: (buf: Uint8ArrayList | Uint8Array) => {
      asked.push(buf.byteLength)
      if (buf.byteLength < 2) throw new RangeError('Could not decode int16BE')
      return (buf.subarray(0, 2)[0]! << 8) | buf.subarray(0, 2)[1]!
    },
    encodingLength: () => 2,
  })
  // Two whole frames in one chunk: the chunk ends on a frame boundary, as most reads do.
  const frames = [...decoder.decode(Uint8Array.from([0, 1, 7, 0, 2, 8, 9]))]
  assert.deepEqual(
    frames.map((f) => [...f.subarray()]),
    [[7], [8, 9]],
  )
  assert.deepEqual(asked, [7, 4], 'no third call on the empty buffer (it threw a RangeError per chunk)')
  // A frame split across chunks still decodes.
  assert.deepEqual([...decoder.decode(Uint8Array.from([0, 3, 1]))], [])
  assert.deepEqual(
    [...decoder.decode(Uint8Array.from([2, 3]))].map((f) => [...f.subarray()]),
    [[1, 2, 3]],
  )
})

test('a yamux stream grants more window only once half of it is used, not per data frame', async () => {
  // Not exported by the package: load the module the muxer itself uses.
  const { YamuxStream, StreamState } = (await import(
    pathToFileURL(join(nodeModules, '@chainsafe/libp2p-yamux/dist/src/stream.js')).href
  )) as {
    YamuxStream: new (init: Record<string, unknown>) => { handleData(frame: unknown): void }
    StreamState: { Established: number }
  }
  const updates: number[] = []
  const stream = new YamuxStream({
    id: '1',
    streamId: 1,
    direction: 'inbound',
    state: StreamState.Established,
    log: logger('test:yamux'),
    getRTT: () => -1,
    // A frame header; type 1 is a window update, whose length is the credit granted.
    sendFrame: (header: { type: number; length: number }) => {
      if (header.type === 1) updates.push(header.length)
      return true
    },
  })
  const window = 256 * 1024
  const frame = 32 * 1024
  for (let sent = 0; sent < 2 * window; sent += frame) {
    stream.handleData({
      header: { type: 0, flag: 0, streamID: 1, length: frame },
      data: new Uint8ArrayList(new Uint8Array(frame)),
    })
  }
  // 16 frames of 32 KiB: an update each time half of the 256 KiB window (4 frames) is used.
  assert.deepEqual(
    updates,
    [128, 128, 128, 128].map((k) => k * 1024),
  )
})
