// Timeline maths: position at a party time, gapless hand-over to the next song at the exact sample, pause/resume/seek.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  entryStartPartyTime,
  locate,
  pausedAt,
  positionAt,
  type QueueEntry,
  resumedAt,
  seekedTo,
  type Timeline,
} from '../../src/playback/timeline.ts'

const T0 = 1_700_000_000_000
const queue: QueueEntry[] = [
  { entryId: 'e1', cid: 'a', duration: { frames: 441_000, sampleRate: 44_100 } }, // 10 s
  { entryId: 'e2', cid: 'b', duration: { frames: 48_001, sampleRate: 48_000 } }, // 1.0000208 s
  { entryId: 'e3', cid: 'c', duration: { frames: 96_000, sampleRate: 48_000 } }, // 2 s
]
const playing: Timeline = {
  entryId: 'e1',
  cid: 'a',
  anchorPartyTime: T0,
  anchorPosition: 0,
  paused: false,
  rate: 1,
}

test('position advances with party time and stands still when paused', () => {
  assert.equal(positionAt(playing, T0 + 2500), 2.5)
  assert.equal(positionAt({ ...playing, anchorPosition: 3 }, T0 - 1000), 2)
  assert.equal(positionAt({ ...playing, paused: true, anchorPosition: 4 }, T0 + 99_999), 4)
})

test('a scheduled start reports a negative position before it', () => {
  const here = locate(playing, queue, T0 - 250)
  assert.deepEqual(here, { index: 0, entryId: 'e1', cid: 'a', position: -0.25 })
})

test('the next song starts at the exact end of the previous one (gapless)', () => {
  assert.equal(locate(playing, queue, T0 + 9_999.9)?.entryId, 'e1')
  const atBoundary = locate(playing, queue, T0 + 10_000)
  assert.deepEqual(atBoundary, { index: 1, entryId: 'e2', cid: 'b', position: 0 })
  // e2 is one frame longer than a second: at +1 s it is still playing, its last frame.
  const lastFrame = locate(playing, queue, T0 + 11_000)
  assert.equal(lastFrame?.entryId, 'e2')
  assert.ok(Math.abs((lastFrame?.position ?? 0) * 48_000 - 48_000) < 1e-3)
  const third = locate(playing, queue, T0 + 11_000 + 1000 / 48_000 + 500)
  assert.equal(third?.entryId, 'e3')
  assert.ok(Math.abs((third?.position ?? 0) - 0.5) < 1e-6)
  assert.equal(entryStartPartyTime(playing, queue, 2), T0 + 11_000 + 1000 / 48_000)
})

test('past the last song the queue has ended', () => {
  assert.equal(locate(playing, queue, T0 + 13_100), undefined)
})

test('an unknown duration stops the walk at that entry', () => {
  const partial: QueueEntry[] = [{ entryId: 'e1', cid: 'a' }, queue[1]]
  assert.deepEqual(locate(playing, partial, T0 + 15_000), { index: 0, entryId: 'e1', cid: 'a', position: 15 })
  assert.equal(entryStartPartyTime(playing, partial, 1), undefined)
})

test('a timeline whose entry left the queue locates nothing', () => {
  assert.equal(locate({ ...playing, entryId: 'gone' }, queue, T0), undefined)
})

test('pause freezes the place (across a song boundary), resume continues from it, seek jumps', () => {
  const paused = pausedAt(playing, T0 + 10_500, queue)
  assert.equal(paused.paused, true)
  assert.equal(paused.entryId, 'e2')
  assert.equal(paused.anchorPosition, 0.5)
  assert.equal(locate(paused, queue, T0 + 60_000)?.position, 0.5)
  const resumed = resumedAt(paused, T0 + 20_000)
  assert.equal(locate(resumed, queue, T0 + 20_250)?.position, 0.75)
  const seeked = seekedTo(resumed, queue[0], 7, T0 + 30_000)
  assert.deepEqual(locate(seeked, queue, T0 + 31_000), { index: 0, entryId: 'e1', cid: 'a', position: 8 })
})
