/**
 * Where the node's player gets party songs: from the library when we have
 * them, else through the swarm with the party members as providers. A song
 * not yet here streams: the player gets it as soon as the audio at the
 * party's position has arrived (src/playback/stream-song.ts; a VBR MP3 or
 * Ogg Vorbis once everything before it has) while the rest keeps coming; a
 * stream that fails before it plays (or a file whose header leaves its length
 * open) is decoded once downloaded; a stream that stops later is completed
 * from the downloaded file. Until then the
 * player plays silence and joins the timeline at the party's position the
 * moment audio is there — a slow member never delays the party.
 */
import type { Library } from '../library/types.ts'
import type { DecodedSong } from '../playback/decode.ts'
import { HEAD_BYTES, streamSong } from '../playback/stream-song.ts'
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
    /** Streaming read and size (both or neither): lets a song play while it arrives. */
    read?(
      cid: string,
      start: number,
      endInclusive: number,
      options?: { signal?: AbortSignal; providers?: string[] },
    ): AsyncIterable<Uint8Array>
    /** The song's size once its manifest is known (`Swarm.waitForStat`). */
    waitForStat?(cid: string, options?: { signal?: AbortSignal }): Promise<{ size: number } | undefined>
  }
  /** Peers to fetch from first: the party's members (`PartyService.songProviders`). */
  providers(): string[]
  /** Decode a file for the player (src/playback/decode.ts `decodeAudioFile` fits). */
  decode(path: string, options?: { signal?: AbortSignal }): Promise<DecodedSong>
  /** Output rate of the player (default 48 000). */
  sampleRate?: number
}

/** How long to wait for a song's manifest (its size) before giving the streaming path up. */
const MANIFEST_WAIT_MS = 20_000

export function createPartySongLoader(
  components: PartySongLoaderComponents,
): (
  cid: string,
  options?: { signal?: AbortSignal; startAt?: number; position?: () => number | undefined },
) => Promise<DecodedSong | undefined> {
  const { swarm } = components

  async function size(cid: string, signal?: AbortSignal): Promise<number | undefined> {
    const waitForStat = swarm?.waitForStat
    if (waitForStat === undefined) return undefined
    const patience = AbortSignal.timeout(MANIFEST_WAIT_MS)
    try {
      const stat = await waitForStat(cid, {
        signal: signal === undefined ? patience : AbortSignal.any([signal, patience]),
      })
      return stat?.size
    } catch (err) {
      signal?.throwIfAborted()
      if (patience.aborted) return undefined
      throw err
    }
  }

  async function stream(
    cid: string,
    startAt: number,
    position: (() => number | undefined) | undefined,
    signal: AbortSignal | undefined,
    onStopped: (err: Error) => void,
  ): Promise<DecodedSong | undefined> {
    const read = swarm?.read
    if (read === undefined) return undefined
    const providers = components.providers()
    // Ask for the head now, before the size is known: the download's first requests then start with
    // it instead of pieces nobody reads yet, which behind a slow uplink would each come first.
    void (async () => {
      for await (const _ of read(cid, 0, HEAD_BYTES - 1, { signal, providers })) {
      }
    })().catch(() => {})
    const bytes = await size(cid, signal)
    if (bytes === undefined || bytes === 0) return undefined
    return streamSong(
      { size: bytes, read: (start, end, s) => read(cid, start, end, { signal: s, providers }) },
      {
        startAt,
        position,
        outputSampleRate: components.sampleRate ?? 48_000,
        signal,
        onDone: (err) => {
          if (err === undefined || signal?.aborted) return
          logger('streaming %s stopped: %s', cid, err.message)
          onStopped(err)
        },
      },
    )
  }

  /** The whole file's audio into a streamed song whose stream stopped; the song is whole after. */
  async function fillFromWhole(
    cid: string,
    song: DecodedSong,
    whole: Promise<{ path?: string }>,
    signal?: AbortSignal,
  ): Promise<void> {
    const info = await whole
    if (info.path === undefined) throw new Error('the download has no file')
    const full = await components.decode(info.path, { signal })
    if (full.frames === song.frames && full.channels.length === song.channels.length) {
      for (const [c, channel] of full.channels.entries()) song.channels[c].set(channel)
    } else {
      // The header the stream went by misstated the length (a stale Xing frame count, a FLAC
      // STREAMINFO that promises more, a CBR frame count estimated from the size): the whole file's
      // decode is the song. The player reads channels and length afresh every block.
      logger(
        '%s decodes to %d frames, its header said %d: playing the whole decode',
        cid,
        full.frames,
        song.frames,
      )
      song.channels = full.channels
      song.frames = full.frames
    }
    song.ready = undefined
  }

  return async (cid, options) => {
    const local = components.library.get(cid)
    if (local !== undefined) return components.decode(local.path, options)
    if (swarm === undefined) return undefined
    try {
      // The whole download runs in any case (the song joins the library); streaming only plays it sooner.
      const whole = swarm.download(cid, { providers: components.providers(), signal: options?.signal })
      whole.catch(() => {}) // awaited below unless the song streams
      // A stream that stops after it began to play (a provider gone, bad bytes) leaves the song
      // partly there: once the whole file is in, its audio fills the song the player holds.
      let stopped = false
      let streamed: DecodedSong | undefined
      const complete = (song: DecodedSong) =>
        void fillFromWhole(cid, song, whole, options?.signal).catch((err: Error) => {
          if (!options?.signal?.aborted) logger('cannot complete %s: %s', cid, err.message)
        })
      streamed = await stream(cid, options?.startAt ?? 0, options?.position, options?.signal, () => {
        stopped = true
        if (streamed !== undefined) complete(streamed)
      }).catch((err: Error) => {
        options?.signal?.throwIfAborted()
        logger('cannot stream %s (%s): waiting for the whole file', cid, err.message)
        return undefined
      })
      if (streamed !== undefined) {
        if (stopped) complete(streamed)
        return streamed
      }
      const info = await whole
      if (info.path === undefined) return undefined
      return await components.decode(info.path, options)
    } catch (err) {
      logger('cannot load %s: %s', cid, (err as Error).message)
      return undefined
    }
  }
}
