/**
 * Pure drift-correction policy of the browser player (no DOM, no clocks).
 * error = where the player is − where the party says it should be (ms; positive: ahead).
 *  - |error| < 2 ms: leave it (below what anyone hears; chasing it only adds pitch wobble),
 *    and a running nudge stops once |error| < 1 ms (hysteresis);
 *  - 2–40 ms: nudge playbackRate by at most ±0.3 % (≈5 cents), aiming to close
 *    the gap in about two seconds;
 *  - more: hard resync (restart the source at the right offset): an audible
 *    jump, but 40 ms of smooth correction would take over 13 s.
 */

export const IGNORE_BELOW_MS = 2
export const STOP_NUDGING_BELOW_MS = 1
export const HARD_RESYNC_ABOVE_MS = 40
export const MAX_RATE_NUDGE = 0.003
export const CORRECTION_HORIZON_MS = 2000

export type Correction = { kind: 'none'; rate: 1 } | { kind: 'nudge'; rate: number } | { kind: 'resync' }

export function correctionFor(errorMs: number, currentlyNudging: boolean): Correction {
  const size = Math.abs(errorMs)
  if (!Number.isFinite(errorMs) || size > HARD_RESYNC_ABOVE_MS) return { kind: 'resync' }
  if (size < (currentlyNudging ? STOP_NUDGING_BELOW_MS : IGNORE_BELOW_MS)) return { kind: 'none', rate: 1 }
  const nudge = Math.max(-MAX_RATE_NUDGE, Math.min(MAX_RATE_NUDGE, errorMs / CORRECTION_HORIZON_MS))
  // Ahead (error > 0) → play slower.
  return { kind: 'nudge', rate: 1 - nudge }
}
