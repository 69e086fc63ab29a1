/**
 * What a fetched song's file is called: "Artist - Title.ext" from its tags
 * when it has them, else "<cid>.ext". The swarm knows no file names (the
 * manifest carries only size and hashes), so the name comes from the verified
 * bytes. Pure, apart from `probeSongName`, which reads the file.
 */
import { probeAudioFile } from '../library/probe.ts'
import { UNKNOWN_ARTIST } from '../library/sanitize.ts'

const MAX_NAME_CHARS = 120
const PROBE_TIMEOUT_MS = 5_000

/** A file-system-safe name part: no path separators, reserved or control characters, no leading dot. */
export function safeNamePart(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we remove
      .replace(/[\u0000-\u001f\u007f/\\:*?"<>|]/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/^\.+/, '')
      .slice(0, MAX_NAME_CHARS)
      .trim()
  )
}

export function songFileName(
  tags: { title?: string; artist?: string } | undefined,
  ext: string,
  cid: string,
): string {
  const title = safeNamePart(tags?.title ?? '')
  const artist = tags?.artist === UNKNOWN_ARTIST ? '' : safeNamePart(tags?.artist ?? '')
  const stem = title === '' ? cid : artist === '' ? title : `${artist} - ${title}`
  return `${stem.slice(0, MAX_NAME_CHARS)}.${safeNamePart(ext) || 'bin'}`
}

/**
 * Tags and format of a finished download's bytes, for its file name; the
 * probe's fallback title (the file name itself) does not count as a title.
 */
export async function probeSongName(
  dataPath: string,
  size: number,
): Promise<{ title?: string; artist?: string; ext: string } | undefined> {
  let timer: NodeJS.Timeout | undefined
  try {
    const probed = await Promise.race([
      probeAudioFile(dataPath, size),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), PROBE_TIMEOUT_MS)
      }),
    ])
    if (probed === undefined || !probed.ok) return undefined
    const fallbackTitle = dataPath.split('/').pop()
    return {
      title: probed.title === fallbackTitle ? undefined : probed.title,
      artist: probed.artist,
      ext: probed.format,
    }
  } catch {
    return undefined
  } finally {
    clearTimeout(timer)
  }
}
