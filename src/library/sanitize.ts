/**
 * Pure tag hygiene. Tags come from files anyone may have made: they are shown
 * in terminals and browsers and sent to peers, so control characters go,
 * lengths are capped and empty values fall back to something readable.
 */
import { basename, extname } from 'node:path'

export const MAX_TAG_CHARS = 256
export const UNKNOWN_ARTIST = 'Unknown Artist'
export const UNKNOWN_ALBUM = 'Unknown Album'

// C0/C1 controls, bidi overrides/isolates (they can make a title render as something else), line separators,
// and noncharacters (what 0xFF padding decodes to when a broken tag is read as UTF-16).
const UNSAFE = /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff\ufdd0-\ufdef\ufffe\uffff]/gu

/** Cleans one tag value; returns '' when nothing printable is left. */
export function sanitizeTag(value: unknown): string {
  if (typeof value !== 'string') return ''
  // Look at a bounded prefix only: a 100 MB title must not cost 100 MB of regex work.
  const head = value.slice(0, MAX_TAG_CHARS * 8).toWellFormed()
  const clean = head.replace(UNSAFE, ' ').replace(/\s+/g, ' ').trim()
  const chars = Array.from(clean)
  if (chars.length <= MAX_TAG_CHARS) return clean
  return `${chars
    .slice(0, MAX_TAG_CHARS - 1)
    .join('')
    .trimEnd()}…`
}

export interface SongTags {
  title: string
  artist: string
  album: string
}

/** Sanitised tags with fallbacks: the file name for the title, "Unknown Artist", "Unknown Album". */
export function songTags(
  path: string,
  raw: { title?: unknown; artist?: unknown; album?: unknown },
): SongTags {
  const fileTitle = sanitizeTag(basename(path, extname(path))) || 'Untitled'
  return {
    title: sanitizeTag(raw.title) || fileTitle,
    artist: sanitizeTag(raw.artist) || UNKNOWN_ARTIST,
    album: sanitizeTag(raw.album) || UNKNOWN_ALBUM,
  }
}
