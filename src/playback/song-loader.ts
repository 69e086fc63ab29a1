/**
 * `loadSong` for the headless player from the local library: a song we hold
 * is decoded from its file; one we do not hold yet yields undefined (the
 * player plays silence and retries when the timeline or queue changes).
 */
import type { Library } from '../library/types.ts'
import { type DecodedSong, decodeAudioFile } from './decode.ts'

export function librarySongLoader(
  library: Pick<Library, 'get'>,
): (cid: string, options?: { signal?: AbortSignal }) => Promise<DecodedSong | undefined> {
  return async (cid, options) => {
    const song = library.get(cid)
    if (song === undefined) return undefined
    return decodeAudioFile(song.path, { signal: options?.signal })
  }
}
