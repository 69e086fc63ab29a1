/**
 * HTTP Range for song streaming, as a pure function of the header and the
 * size. One range per response: a multi-range request is answered with the
 * whole song (RFC 9110 lets a server ignore Range; browsers never send
 * several). A `bytes=` range we cannot satisfy, or cannot read, is a 416 —
 * clearer to a client than silently sending everything.
 */
export type RangePlan =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' }

export function planRange(header: string | undefined, size: number): RangePlan {
  if (header === undefined || header.trim() === '') return { kind: 'full' }
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header)
  if (match === null) return { kind: 'full' } // another unit: ignore, as RFC 9110 says
  const spec = match[1].trim()
  if (spec.includes(',')) return { kind: 'full' }
  const parts = /^(\d*)-(\d*)$/.exec(spec)
  if (parts === null || (parts[1] === '' && parts[2] === '')) return { kind: 'unsatisfiable' }
  const first = parts[1] === '' ? undefined : Number(parts[1])
  const last = parts[2] === '' ? undefined : Number(parts[2])
  if (
    (first !== undefined && !Number.isSafeInteger(first)) ||
    (last !== undefined && !Number.isSafeInteger(last))
  )
    return { kind: 'unsatisfiable' }
  if (first === undefined) {
    // suffix range: the last N bytes
    if (last === undefined || last === 0 || size === 0) return { kind: 'unsatisfiable' }
    return { kind: 'partial', start: Math.max(0, size - last), end: size - 1 }
  }
  if (first >= size) return { kind: 'unsatisfiable' }
  if (last !== undefined && last < first) return { kind: 'unsatisfiable' }
  return { kind: 'partial', start: first, end: Math.min(last ?? size - 1, size - 1) }
}
