// Block renderer: a small change of the clock estimate is slewed away smoothly (no jump, bounded rate change); a large one jumps at once.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { DecodedSong } from '../../src/playback/decode.ts'
import { BlockRenderer } from '../../src/playback/renderer.ts'
import type { QueueEntry, Timeline } from '../../src/playback/timeline.ts'

const EPOCH = 1_700_000_000_000
const RATE = 48_000
const frames = RATE * 60
// A ramp: the sample value tells which frame was read.
const ramp = Float32Array.from({ length: frames }, (_, i) => i / frames)
const song: DecodedSong = { sampleRate: RATE, channels: [ramp], frames, sourceSampleRate: RATE }
const queue: QueueEntry[] = [{ entryId: 'e', cid: 'c', duration: { frames, sampleRate: RATE } }]
const timeline: Timeline = {
  entryId: 'e',
  cid: 'c',
  anchorPartyTime: EPOCH,
  anchorPosition: 0,
  paused: false,
  rate: 1,
}

function run(shiftMs: number) {
  const renderer = new BlockRenderer()
  let offset = 0
  const positions: number[] = []
  const rates: number[] = []
  for (let b = 0; b < 500; b++) {
    if (b === 50) offset = shiftMs // the clock estimate moves
    const block = renderer.render({
      blockStartLocal: EPOCH + 1000 + b * 20,
      frames: 960,
      timeline,
      queue,
      song: () => song,
      toParty: (l) => l + offset,
    })
    positions.push(block.playhead.mediaPosition)
    rates.push(block.playhead.rate)
  }
  return { positions, rates }
}

test('a 5 ms change of the estimate is slewed at ≤ 0.2 % and fully absorbed', () => {
  const { positions, rates } = run(5)
  for (let b = 51; b < 500; b++) {
    const step = positions[b] - positions[b - 1]
    assert.ok(Math.abs(step - 0.02) <= 0.02 * 0.002 + 1e-9, `block ${b} advanced ${step} s`)
    assert.ok(Math.abs(rates[b] - 1) <= 0.002 + 1e-9)
  }
  // 5 ms at 2 ms/s: absorbed after 2.5 s (125 blocks).
  const target = (b: number) => (1000 + b * 20 + 5) / 1000
  assert.ok(
    Math.abs(positions[499] - target(499)) < 1e-6,
    `still off by ${(positions[499] - target(499)) * 1000} ms`,
  )
  assert.ok(positions[60] < target(60) - 0.003, 'not jumped at once')
})

test('a 50 ms change jumps at once', () => {
  const { positions } = run(50)
  assert.ok(Math.abs(positions[50] - (1000 + 50 * 20 + 50) / 1000) < 1e-6)
})
