/**
 * Reads what a file is: format, tags and duration (music-metadata), or why it
 * is not a song we can share. Never throws for a bad file; the verdict says why.
 */
import { basename } from 'node:path'
import { type IAudioMetadata, parseFile } from 'music-metadata'
import { formatFromContainer, formatFromPath, MIME_TYPES } from './formats.ts'
import { type SongTags, songTags } from './sanitize.ts'
import type { AudioFormat } from './types.ts'

export interface ProbedSong extends SongTags {
  ok: true
  format: AudioFormat
  mime: string
  durationSec: number
  sampleRate?: number
  channels?: number
}

export type ProbeResult = ProbedSong | { ok: false; reason: string }

/** A parse that takes longer than this is given up (a pathological file must not stall the scan). */
const PARSE_TIMEOUT_MS = 15_000

export async function probeAudioFile(path: string, size: number): Promise<ProbeResult> {
  const expected = formatFromPath(path)
  if (size === 0) return { ok: false, reason: 'empty file' }
  let meta: IAudioMetadata
  let timer: NodeJS.Timeout | undefined
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`parsing took longer than ${PARSE_TIMEOUT_MS / 1000} s`)),
        PARSE_TIMEOUT_MS,
      )
    })
    meta = await Promise.race([parseFile(path, { skipCovers: true, duration: false }), timeout])
  } catch (err) {
    return { ok: false, reason: `not a readable audio file: ${describeError(err)}` }
  } finally {
    clearTimeout(timer)
  }
  const { format } = meta
  let actual = formatFromContainer(format.container, format.codec)
  // Raw ADTS sync words turn up in random bytes; only believe them in a file named .aac.
  if (actual === 'aac' && expected !== 'aac') actual = undefined
  if (actual === undefined) {
    const what =
      format.container === undefined ? 'no audio stream found' : `unsupported container ${format.container}`
    return { ok: false, reason: `${what} in a file named ${basename(path)}` }
  }
  const duration = format.duration
  if (duration === undefined || !Number.isFinite(duration) || duration <= 0) {
    return { ok: false, reason: 'no playable audio (duration is zero or unknown)' }
  }
  // A header that promises more audio than the file holds: an interrupted copy or download.
  // (music-metadata clips the duration and only says so in a warning.)
  const truncation = meta.quality.warnings.find((w) =>
    /exceeding file length|truncated|end of file/i.test(w.message),
  )
  if (truncation !== undefined) {
    return {
      ok: false,
      reason: `truncated: ${describeError(truncation.message)} (${duration.toFixed(1)} s readable)`,
    }
  }
  const tags = songTags(path, {
    title: meta.common.title,
    artist: meta.common.artist ?? meta.common.albumartist,
    album: meta.common.album,
  })
  return {
    ok: true,
    ...tags,
    format: actual,
    mime: MIME_TYPES[actual],
    durationSec: duration,
    sampleRate: format.sampleRate,
    channels: format.numberOfChannels,
  }
}

function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  // Errors may quote file content; keep them short and printable.
  return message.replace(/[\p{Cc}]/gu, ' ').slice(0, 200)
}
