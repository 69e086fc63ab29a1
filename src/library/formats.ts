/** Which files are songs: audio file extensions, and the format and MIME type each maps to. */
import { extname } from 'node:path'
import type { AudioFormat } from './types.ts'

const BY_EXTENSION: Record<string, AudioFormat> = {
  '.mp3': 'mp3',
  '.flac': 'flac',
  '.ogg': 'ogg',
  '.oga': 'ogg',
  '.opus': 'opus',
  '.m4a': 'm4a',
  '.aac': 'aac',
  '.wav': 'wav',
}

export const MIME_TYPES: Record<AudioFormat, string> = {
  mp3: 'audio/mpeg',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  opus: 'audio/ogg; codecs=opus',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  wav: 'audio/wav',
}

/** The format a file name promises, or undefined when it is not an audio file name. */
export function formatFromPath(path: string): AudioFormat | undefined {
  return BY_EXTENSION[extname(path).toLowerCase()]
}

/**
 * The format music-metadata found inside the file. The content wins over the
 * extension (an MP3 named .wav is served as audio/mpeg); undefined when the
 * container is not one we share.
 */
export function formatFromContainer(
  container: string | undefined,
  codec: string | undefined,
): AudioFormat | undefined {
  const c = (container ?? '').toLowerCase()
  if (c === 'mpeg') return 'mp3'
  if (c === 'flac') return 'flac'
  if (c === 'wave') return 'wav'
  if (c.startsWith('adts')) return 'aac'
  if (c === 'ogg') return (codec ?? '').toLowerCase().includes('opus') ? 'opus' : 'ogg'
  if (c.startsWith('m4a') || c.startsWith('mp4') || c.startsWith('isom') || c.startsWith('m4b')) return 'm4a'
  return undefined
}
