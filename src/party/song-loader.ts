/**
 * Where the node's player gets party songs: from the library when we have
 * them, else through the swarm with the party members as providers. The
 * player plays silence for a song still on its way and joins the timeline at
 * the party's position the moment it is loaded — a slow member never delays
 * the party.
 */
import type { Library } from '../library/types.ts'
import type { DecodedSong } from '../playback/decode.ts'
import { log } from '../shared/logger.ts'

const logger = log('party:songs')

export interface PartySongLoaderComponents {
  library: Pick<Library, 'get'>
  /** src/swarm's `Swarm` fits; without it only library songs play. */
  swarm?: {
    download(
      cid: string,
      options?: { providers?: string[]; signal?: AbortSignal },
    ): Promise<{ path?: string }>
  }
  /** Peers to fetch from first: the party's members (`PartyService.songProviders`). */
  providers(): string[]
  /** Decode a file for the player (src/playback/decode.ts `decodeAudioFile` fits). */
  decode(path: string, options?: { signal?: AbortSignal }): Promise<DecodedSong>
}

export function createPartySongLoader(
  components: PartySongLoaderComponents,
): (cid: string, options?: { signal?: AbortSignal }) => Promise<DecodedSong | undefined> {
  return async (cid, options) => {
    const local = components.library.get(cid)
    if (local !== undefined) return components.decode(local.path, options)
    if (components.swarm === undefined) return undefined
    try {
      const info = await components.swarm.download(cid, {
        providers: components.providers(),
        signal: options?.signal,
      })
      if (info.path === undefined) return undefined
      return await components.decode(info.path, options)
    } catch (err) {
      logger('cannot load %s: %s', cid, (err as Error).message)
      return undefined
    }
  }
}
