/**
 * Pure timeline maths: which song plays at a given party time, and where in it.
 *
 * A timeline pins one queue entry to the party clock: at `anchorPartyTime`
 * the entry was (or will be) at `anchorPosition` seconds. Songs play
 * gaplessly: the next entry starts at the exact end of the previous one,
 * durations counted in sample frames, so every member derives the same
 * boundaries from the same numbers. No clock reads here; callers pass times.
 */

export interface Timeline {
  entryId: string
  cid: string
  /** Party time (ms) at which the entry is at `anchorPosition`. */
  anchorPartyTime: number
  /** Seconds into the entry at `anchorPartyTime`; negative means "starts |x| s after the anchor". */
  anchorPosition: number
  paused: boolean
  /** Playback rate; always 1 for now (kept so the wire format can grow). */
  rate: 1
}

export interface QueueEntry {
  entryId: string
  cid: string
  /** Exact length: frames at the song's own sample rate. Unknown until the song is probed. */
  duration?: { frames: number; sampleRate: number }
}

export interface Located {
  /** Index into the queue. */
  index: number
  entryId: string
  cid: string
  /** Seconds into the entry; negative before a scheduled start. */
  position: number
}

export function durationSeconds(entry: QueueEntry): number | undefined {
  return entry.duration === undefined ? undefined : entry.duration.frames / entry.duration.sampleRate
}

/** Position (s) in the timeline's own entry at `partyTime`, ignoring where that entry ends. */
export function positionAt(timeline: Timeline, partyTime: number): number {
  if (timeline.paused) return timeline.anchorPosition
  return timeline.anchorPosition + ((partyTime - timeline.anchorPartyTime) / 1000) * timeline.rate
}

/**
 * Which entry plays at `partyTime` and where. Walks forward from the
 * timeline's entry through the queue, gaplessly. Returns undefined when the
 * queue has run out (or the timeline's entry is not in the queue). When an
 * entry's duration is unknown the walk stops there: the position may then lie
 * past that entry's real end, and the player plays silence.
 */
export function locate(
  timeline: Timeline,
  queue: readonly QueueEntry[],
  partyTime: number,
): Located | undefined {
  let index = queue.findIndex((e) => e.entryId === timeline.entryId)
  if (index < 0) return undefined
  let position = positionAt(timeline, partyTime)
  while (true) {
    const entry = queue[index]
    const length = durationSeconds(entry)
    if (length === undefined || position < length) {
      return { index, entryId: entry.entryId, cid: entry.cid, position }
    }
    if (index + 1 >= queue.length) return undefined
    position -= length
    index += 1
  }
}

/**
 * Party time (ms) at which `queue[index]` starts (position 0), or undefined
 * when it lies before the timeline's entry, a duration on the way is unknown,
 * or the timeline is paused (nothing is scheduled then).
 */
export function entryStartPartyTime(
  timeline: Timeline,
  queue: readonly QueueEntry[],
  index: number,
): number | undefined {
  const from = queue.findIndex((e) => e.entryId === timeline.entryId)
  if (from < 0 || index < from || index >= queue.length || timeline.paused) return undefined
  let seconds = -timeline.anchorPosition
  for (let i = from; i < index; i++) {
    const length = durationSeconds(queue[i])
    if (length === undefined) return undefined
    seconds += length
  }
  return timeline.anchorPartyTime + (seconds * 1000) / timeline.rate
}

/** The timeline frozen at `partyTime` (pause takes effect exactly then). */
export function pausedAt(timeline: Timeline, partyTime: number, queue?: readonly QueueEntry[]): Timeline {
  const here = queue === undefined ? undefined : locate(timeline, queue, partyTime)
  if (here !== undefined) {
    return { ...timeline, entryId: here.entryId, cid: here.cid, anchorPosition: here.position, paused: true }
  }
  return { ...timeline, anchorPosition: positionAt(timeline, partyTime), paused: true }
}

/** A paused timeline resumed at `partyTime`, from where it stopped. */
export function resumedAt(timeline: Timeline, partyTime: number): Timeline {
  return { ...timeline, anchorPartyTime: partyTime, paused: false }
}

/** Jump to `position` seconds of `entry` at `partyTime`, keeping the paused state. */
export function seekedTo(
  timeline: Timeline,
  entry: { entryId: string; cid: string },
  position: number,
  partyTime: number,
): Timeline {
  return {
    ...timeline,
    entryId: entry.entryId,
    cid: entry.cid,
    anchorPartyTime: partyTime,
    anchorPosition: position,
  }
}
