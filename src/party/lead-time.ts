/**
 * How far ahead the host stamps a playback change: long enough for the entry
 * to reach every member before it takes effect, short enough to feel
 * immediate. max RTT × 1.5 + 100 ms, bounded to [150 ms, 2 s].
 */
export const MIN_LEAD_MS = 150
export const MAX_LEAD_MS = 2_000

export function effectLeadMs(memberRttsMs: Iterable<number | undefined>): number {
  let max = 0
  for (const rtt of memberRttsMs) if (rtt !== undefined && Number.isFinite(rtt) && rtt > max) max = rtt
  return Math.min(MAX_LEAD_MS, Math.max(MIN_LEAD_MS, max * 1.5 + 100))
}
