/**
 * A one-line TTY progress bar (`[#####.....] 12/40 scanning library`). On a
 * stream that is not a terminal (a pipe, a log file, CI) every call is a no-op,
 * so callers never need to check.
 */
export interface ProgressBar {
  update(done: number, total: number, label?: string): void
  /** Clears the bar's line; further updates draw a fresh bar. Idempotent. */
  done(): void
}

interface BarStream {
  isTTY?: boolean
  columns?: number
  write(chunk: string): unknown
}

const MIN_REDRAW_MS = 50

export function createProgressBar(stream: BarStream): ProgressBar {
  if (stream.isTTY !== true) return { update: () => {}, done: () => {} }
  let drawn = false
  let lastLine = ''
  let lastDrawAt = 0

  return {
    update(done, total, label = '') {
      const line = renderProgressLine(done, total, label, stream.columns ?? 80)
      // Redraw at most every 50 ms, except for the final state which must always show.
      const now = performance.now()
      if (line === lastLine || (now - lastDrawAt < MIN_REDRAW_MS && done < total)) return
      lastLine = line
      lastDrawAt = now
      stream.write(`\r\x1b[2K${line}`)
      drawn = true
    },
    done() {
      if (!drawn) return
      stream.write('\r\x1b[2K')
      drawn = false
      lastLine = ''
    },
  }
}

/** Pure: the text of one bar line, fitted to `columns`. */
export function renderProgressLine(done: number, total: number, label: string, columns: number): string {
  const safeTotal = Math.max(0, total)
  const safeDone = Math.max(0, Math.min(done, safeTotal))
  const ratio = safeTotal === 0 ? 0 : safeDone / safeTotal
  const counts = `${safeDone}/${safeTotal}`
  const width = Math.max(10, Math.min(30, columns - counts.length - 8))
  const filled = Math.round(ratio * width)
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`
  const line = `${bar} ${counts} ${label}`
  return line.length >= columns ? line.slice(0, Math.max(0, columns - 1)) : line
}
