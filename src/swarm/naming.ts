/**
 * What a fetched song's file is called: "Artist - Title.ext" from its tags
 * when it has them, else "<cid>.ext". The swarm knows no file names (the
 * manifest carries only size and hashes), so the name comes from the verified
 * bytes. Pure, apart from `probeSongName`, which reads the file.
 */
import { parseBuffer } from 'music-metadata'
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

/**
 * An ID3v2 header with an empty tag, then one MPEG-1 Layer III frame of
 * silence: the smallest input that walks music-metadata's tag and MPEG paths.
 */
const WARM_UP_MP3 = new Uint8Array([
  ...[0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0],
  ...[0xff, 0xfb, 0x90, 0x64],
  ...new Uint8Array(413),
])

/**
 * Parse a tiny in-memory MP3 once. music-metadata loads and compiles its
 * parsers on first use; a node that scanned MP3s has done so, but one with an
 * empty library (a phone, bench:swarm's leechers) paid it inside its first
 * finished download, while the whole-song check waited on the same thread
 * (~17 ms of a 16 MiB song's finish here, against ~3 ms warm).
 */
export async function warmUpNaming(): Promise<void> {
  await parseBuffer(WARM_UP_MP3, { mimeType: 'audio/mpeg' }, { duration: false, skipCovers: true }).catch(
    () => {},
  )
}
