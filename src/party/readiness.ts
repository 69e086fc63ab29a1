/**
 * Can a song be played from the swarm without stalling? Pure: given what has
 * arrived and the current rate, a song is playable from position p once the
 * bytes still missing can arrive before the playhead needs them. A member
 * whose copy is not ready stays silent and joins the timeline at the party's
 * position as soon as it is — it never delays the party.
 */
export interface TransferProgress {
  /** Total bytes, when known. */
  size?: number
  bytesDone: number
  /** Current verified download rate, bytes/s. */
  rateBps: number
}

export type SongReadiness = 'local' | 'ready' | 'arriving' | 'missing'

/** Safety factor on the rate: rates fluctuate; require 25 % headroom. */
const RATE_HEADROOM = 1.25

/**
 * True when, playing from `positionSec` onward at 1×, every byte arrives
 * before it is needed (bytes assumed evenly spread over the duration).
 */
export function canPlayInTime(progress: TransferProgress, durationSec: number, positionSec = 0): boolean {
  if (progress.size === undefined || progress.size <= 0 || durationSec <= 0) return false
  if (progress.bytesDone >= progress.size) return true
  const missing = progress.size - progress.bytesDone
  const remainingSec = Math.max(0, durationSec - positionSec)
  if (remainingSec === 0) return true
  if (progress.rateBps <= 0) return false
  // Pieces near the playhead come first (the swarm streams in order), so the
  // last missing byte is the binding one: fetching everything missing must take
  // no longer than playing what is left.
  const downloadSec = missing / (progress.rateBps / RATE_HEADROOM)
  return downloadSec <= remainingSec
}

export function readinessOf(
  local: boolean,
  download: TransferProgress | undefined,
  durationSec: number,
  positionSec = 0,
): SongReadiness {
  if (local) return 'local'
  if (download === undefined) return 'missing'
  return canPlayInTime(download, durationSec, positionSec) ? 'ready' : 'arriving'
}
