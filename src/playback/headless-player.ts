/**
 * The node's own player: follows the party timeline and writes audio to an
 * output (`none`, `wav:FILE`, `pipe:CMD`). Blocks of 20 ms are rendered by the
 * pure BlockRenderer, paced by the injected clock: block b covers local time
 * [start + b·20 ms, start + (b+1)·20 ms), where `start` is fixed when the
 * player starts, so recordings are aligned to the local clock sample by sample.
 *
 * The party module drives it with `setTimeline(timeline, queue)`; the clock
 * sync supplies `toParty`/`toLocal`. Songs are loaded (decoded) ahead through
 * `loadSong`, at most a few at a time (a decoded 4-minute song is ~90 MB).
 */
import type { Clock } from '../shared/clock.ts'
import { TypedEmitter } from '../shared/events.ts'
import { log } from '../shared/logger.ts'
import type { DecodedSong } from './decode.ts'
import { UnsupportedAudioError } from './errors.ts'
import { type AudioSink, openSink, parseOutput, type RecordingInfo } from './outputs.ts'
import { BlockRenderer, type PlayheadMapping } from './renderer.ts'
import { locate, type QueueEntry, type Timeline } from './timeline.ts'

const logger = log('playback')

export const PLAYER_SAMPLE_RATE = 48_000

export interface HeadlessPlayerInit {
  /** `none` | `wav:FILE` | `pipe:CMD`. */
  output: string
  /** Block length, ms. Default 20. */
  blockMs?: number
  /** How far ahead of the clock blocks are rendered. Default 60 ms (200 ms for pipes). */
  lookaheadMs?: number
  /**
   * For `pipe:`: time from writing a sample to hearing it (device + driver
   * buffering). Not measurable from here; set per device. Default 100 ms.
   */
  outputLatencyMs?: number
  /** Local time of recording sample 0. Default: the clock at start() (+ output latency for pipes). */
  recordingStartLocalMs?: number
  /** Playhead events at least this often while playing. Default 250 ms. */
  playheadIntervalMs?: number
  /** Songs kept decoded ahead of (and including) the current one. Default 2. */
  preloadEntries?: number
  /** A song `loadSong` could not provide is asked for again after this long, ms. Default 2000. */
  retryLoadMs?: number
  /**
   * Following a changed clock estimate: differences up to this are slewed
   * away (inaudibly, at most `maxSlew`), larger ones jump. Defaults 20 ms and
   * 0.002 (2 ms per second, about 3.5 cents).
   */
  hardResyncMs?: number
  maxSlew?: number
}

export interface HeadlessPlayerComponents {
  clock: Clock
  toLocal(partyMs: number): number
  toParty(localMs: number): number
  /**
   * `startAt`: the media second the party is at in this song now (0 for a
   * song still to come), so a loader that streams can fetch from there first;
   * `position()` the same, asked again later (undefined once the party is in
   * another song), so a stream aims where the party will be, not where it was.
   */
  loadSong(
    cid: string,
    options?: { signal?: AbortSignal; startAt?: number; position?: () => number | undefined },
  ): Promise<DecodedSong | undefined>
}

export interface HeadlessPlayerEvents extends Record<string, unknown> {
  playhead: PlayheadMapping
}

export interface HeadlessPlayer {
  start(): Promise<void>
  stop(): Promise<void>
  /** Follow this timeline (undefined: stop playing). Takes effect from the next rendered block. */
  setTimeline(timeline: Timeline | undefined, queue: readonly QueueEntry[]): void
  /** The latest mapping rendered (its localTime may lie up to the lookahead in the future). */
  playhead(): PlayheadMapping
  on<K extends keyof HeadlessPlayerEvents>(
    type: K,
    listener: (payload: HeadlessPlayerEvents[K]) => void,
  ): () => void
  /** Render every block that starts before `localMs` (start() does this on a timer; simulations call it directly). */
  renderUntil(localMs: number): void
  /** Resolves when every song the timeline needs now is decoded (or failed). For tests and start-up. */
  whenLoaded(): Promise<void>
  readonly recording: RecordingInfo | undefined
  /** Times a pipe output ran dry and blocks were skipped to stay aligned. */
  readonly underruns: number
}

export function createHeadlessPlayer(
  init: HeadlessPlayerInit,
  components: HeadlessPlayerComponents,
): HeadlessPlayer {
  const spec = parseOutput(init.output)
  const blockMs = init.blockMs ?? 20
  const blockFrames = Math.round((blockMs * PLAYER_SAMPLE_RATE) / 1000)
  const lookaheadMs = init.lookaheadMs ?? (spec.kind === 'pipe' ? 200 : 60)
  const playheadIntervalMs = init.playheadIntervalMs ?? 250
  const preload = init.preloadEntries ?? 2
  const events = new TypedEmitter<HeadlessPlayerEvents>()
  const renderer = new BlockRenderer({
    sampleRate: PLAYER_SAMPLE_RATE,
    hardResyncMs: init.hardResyncMs,
    maxSlew: init.maxSlew,
  })
  const songs = new Map<string, DecodedSong>()
  const loading = new Map<string, Promise<void>>()
  /** Songs that could not be loaded, with the clock time to try again (a download may finish meanwhile). */
  const failed = new Map<string, number>()
  const retryMs = init.retryLoadMs ?? 2000

  let timeline: Timeline | undefined
  let queue: readonly QueueEntry[] = []
  let sink: AudioSink | undefined
  let recording: RecordingInfo | undefined
  let framesWritten = 0
  let timer: ReturnType<typeof setInterval> | undefined
  let abort: AbortController | undefined
  let last: PlayheadMapping = {
    localTime: components.clock.now(),
    mediaPosition: 0,
    rate: 0,
    entryId: undefined,
    cid: undefined,
    playing: false,
    idle: 'no-timeline',
  }
  let lastEmitLocal = Number.NEGATIVE_INFINITY
  let underruns = 0

  function renderingHere() {
    if (timeline === undefined) return undefined
    // Songs are wanted from where rendering stands (ahead of the clock), not where the clock is.
    const local =
      recording === undefined
        ? components.clock.now()
        : recording.recordingStartLocalMs + (framesWritten * 1000) / PLAYER_SAMPLE_RATE
    return locate(timeline, queue, components.toParty(local))
  }

  function wantedCids(): string[] {
    if (timeline === undefined) return []
    const here = renderingHere()
    const from = here?.index ?? queue.findIndex((e) => e.entryId === timeline?.entryId)
    if (from < 0) return []
    return [...new Set(queue.slice(from, from + preload).map((e) => e.cid))]
  }

  function refreshSongs(): void {
    const wanted = wantedCids()
    for (const cid of songs.keys()) if (!wanted.includes(cid)) songs.delete(cid)
    for (const cid of wanted) {
      if (songs.has(cid) || loading.has(cid)) continue
      if ((failed.get(cid) ?? Number.NEGATIVE_INFINITY) > components.clock.now()) continue
      failed.delete(cid)
      const positionNow = () => {
        const here = renderingHere()
        return here?.cid === cid ? Math.max(0, here.position) : undefined
      }
      const startAt = positionNow() ?? 0
      const job = components
        .loadSong(cid, { signal: abort?.signal, startAt, position: positionNow })
        .then((song) => {
          if (song === undefined) failed.set(cid, components.clock.now() + retryMs)
          else if (wantedCids().includes(cid)) songs.set(cid, song)
        })
        .catch((err: Error) => {
          if (err instanceof UnsupportedAudioError) {
            // A format this node cannot decode (AAC/M4A) stays so: asking again every few seconds
            // read the whole file each time. Browser speakers decode such songs themselves.
            failed.set(cid, Number.POSITIVE_INFINITY)
            logger.error('cannot play %s on this node (%s); browser speakers still can', cid, err.message)
            return
          }
          failed.set(cid, components.clock.now() + retryMs)
          logger.error('could not load %s: %s', cid, err.message)
        })
        .finally(() => loading.delete(cid))
      loading.set(cid, job)
    }
  }

  function publish(playhead: PlayheadMapping): void {
    const changed =
      playhead.entryId !== last.entryId ||
      playhead.playing !== last.playing ||
      playhead.idle !== last.idle ||
      // A jump: the new position is not where the old mapping said it would be.
      (playhead.playing &&
        Math.abs(
          last.mediaPosition +
            ((playhead.localTime - last.localTime) / 1000) * last.rate -
            playhead.mediaPosition,
        ) > 0.002)
    last = playhead
    if (changed || playhead.localTime - lastEmitLocal >= playheadIntervalMs) {
      lastEmitLocal = playhead.localTime
      events.emit('playhead', playhead)
    }
  }

  /**
   * A device fed through a pipe plays on regardless: if we fell behind (an
   * event-loop stall longer than the lookahead), it ran dry, and whatever we
   * write next is heard `outputLatencyMs` from now, not when it was due.
   * Skip the blocks that can no longer be on time so the stream stays
   * aligned (a recording never skips: it is not played live).
   */
  function skipIfDeviceStarved(start: number): void {
    const now = components.clock.now()
    const due = start + (framesWritten * 1000) / PLAYER_SAMPLE_RATE
    if (due >= now) return
    const resumeAt = now + (init.outputLatencyMs ?? 100)
    const blocks = Math.ceil(((resumeAt - due) * PLAYER_SAMPLE_RATE) / 1000 / blockFrames)
    logger('output starved: skipping %d blocks (%s ms late)', blocks, (now - due).toFixed(1))
    framesWritten += blocks * blockFrames
    renderer.reset()
    underruns += 1
  }

  function renderUntil(localMs: number): void {
    if (recording === undefined || sink === undefined) return
    const start = recording.recordingStartLocalMs
    let rendered = false
    if (spec.kind === 'pipe') skipIfDeviceStarved(start)
    while (start + (framesWritten * 1000) / PLAYER_SAMPLE_RATE < localMs) {
      const block = renderer.render({
        blockStartLocal: start + (framesWritten * 1000) / PLAYER_SAMPLE_RATE,
        frames: blockFrames,
        timeline,
        queue,
        song: (cid) => songs.get(cid),
        toParty: components.toParty,
      })
      sink.write(block.left, block.right)
      framesWritten += blockFrames
      publish(block.playhead)
      rendered = true
    }
    // Crossing into the next song makes another one wanted (and the old one droppable).
    if (rendered) refreshSongs()
  }

  return {
    get recording() {
      return recording
    },
    get underruns() {
      return underruns
    },
    async start() {
      if (sink !== undefined) return
      const now = components.clock.now()
      const latency = spec.kind === 'pipe' ? (init.outputLatencyMs ?? 100) : 0
      recording = {
        recordingStartLocalMs: init.recordingStartLocalMs ?? now + latency,
        sampleRate: PLAYER_SAMPLE_RATE,
        channels: 2,
      }
      framesWritten = 0
      renderer.reset()
      abort = new AbortController()
      sink = openSink(spec, recording)
      refreshSongs()
      timer = setInterval(() => renderUntil(components.clock.now() + lookaheadMs), blockMs / 2)
    },
    async stop() {
      if (sink === undefined) return
      clearInterval(timer)
      timer = undefined
      abort?.abort()
      const closing = sink
      sink = undefined
      await closing.close()
    },
    setTimeline(next, nextQueue) {
      timeline = next
      queue = [...nextQueue]
      failed.clear() // a changed queue may now have a provider for a song that failed before
      refreshSongs()
    },
    playhead: () => last,
    on: (type, listener) => events.on(type, listener),
    renderUntil,
    async whenLoaded() {
      refreshSongs()
      while (loading.size > 0) await Promise.all([...loading.values()])
    },
  }
}
