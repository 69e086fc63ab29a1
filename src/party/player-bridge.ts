/**
 * Pure conversion from the party state to the playback module's timeline
 * (src/playback/timeline.ts): same anchor, durations in frames at a fixed
 * rate so every member derives the same gapless boundaries.
 */
import type { QueueEntry as PlayerQueueEntry, Timeline as PlayerTimeline } from '../playback/timeline.ts'
import type { PartyState } from './state.ts'

/** Frame rate the party's durations are expressed in for the player (µs-exact enough: 1/48000 s). */
export const TIMELINE_FRAME_RATE = 48_000

export function toPlayerTimeline(state: PartyState): {
  timeline: PlayerTimeline | undefined
  queue: PlayerQueueEntry[]
} {
  const queue: PlayerQueueEntry[] = state.queue.map((e) => ({
    entryId: e.entryId,
    cid: e.cid,
    duration: { frames: Math.round(e.durationSec * TIMELINE_FRAME_RATE), sampleRate: TIMELINE_FRAME_RATE },
  }))
  const t = state.timeline
  const anchor = t.entryId === null ? undefined : state.queue.find((e) => e.entryId === t.entryId)
  if (anchor === undefined || state.ended) return { timeline: undefined, queue }
  return {
    timeline: {
      entryId: anchor.entryId,
      cid: anchor.cid,
      anchorPartyTime: t.anchorPartyTime,
      anchorPosition: t.anchorPosition,
      paused: t.paused,
      rate: 1,
    },
    queue,
  }
}
