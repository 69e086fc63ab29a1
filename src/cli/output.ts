/** Plain terminal output helpers: aligned tables and human sizes. */
export function table(rows: string[][], out: NodeJS.WritableStream = process.stdout): void {
  if (rows.length === 0) return
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)))
  for (const row of rows)
    out.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')}\n`)
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/** The columns every song listing prints (a library, another peer's catalog). */
export function songTable(
  songs: Array<{
    title: string
    artist: string
    album: string
    durationSec: number
    size: number
    cid: string
  }>,
  out: NodeJS.WritableStream = process.stdout,
): void {
  table(
    [
      ['TITLE', 'ARTIST', 'ALBUM', 'LENGTH', 'SIZE', 'CID'],
      ...songs.map((s) => [
        s.title,
        s.artist,
        s.album,
        formatDuration(s.durationSec),
        formatBytes(s.size),
        s.cid,
      ]),
    ],
    out,
  )
}
