/**
 * The browser's party player: Web Audio, scheduled on the node's party clock.
 *
 * Clocks: the page pings its node (`pingPartyClock`, over the local API) and
 * feeds the pure ClockEstimator with performance.now() as the local clock, so
 * party time ↔ performance.now() is known with offset and drift. The audio
 * context runs on the sound card's clock; `currentTime` is read next to
 * performance.now() each time it is needed, and a sample scheduled at context
 * time c is heard `outputLatency + baseLatency` later.
 *
 * Playback: one AudioBufferSourceNode per song, `start(when, offset)` at the
 * exact context time its party start maps to; the next song is scheduled to
 * start where the current one ends (gapless, within the sub-millisecond
 * mapping error). Every 250 ms the heard position is compared to the party's
 * and corrected by the policy in ./correction.ts (ignore < 2 ms, nudge
 * playbackRate ≤ ±0.3 % up to 40 ms, hard resync above).
 *
 * A per-device manual offset (ms, positive = play later) absorbs latency the
 * browser does not report (Bluetooth speakers often add 100–200 ms); it is
 * kept in localStorage.
 *
 * `muted` silences this device through one gain node while it keeps following
 * the party (so unmuting is instant and in sync); the playhead it reports is
 * still the one being rendered, at zero gain.
 */
import { ClockEstimator } from '../../../src/clock/estimator.ts'
import type { PlayheadMapping } from '../../../src/playback/renderer.ts'
import {
  entryStartPartyTime,
  locate,
  type QueueEntry,
  type Timeline,
} from '../../../src/playback/timeline.ts'
import { correctionFor } from './correction.ts'

export interface BrowserPlayhead extends PlayheadMapping {
  /** `localTime` on the party clock (undefined before the clock is synced). */
  partyTime: number | undefined
  /** Heard position − party position, ms (positive: ahead). */
  errorMs: number | undefined
}

export interface SyncedPlayerOptions {
  /** Ask the node for its party clock: t1 = when the request arrived, t2 = when the answer left (may be equal). */
  pingPartyClock(signal: AbortSignal): Promise<{ t1: number; t2: number }>
  /** Create lazily by default; must be resumed after a user gesture (`resume()`). */
  audioContext?: AudioContext
  fetchAudio?(url: string, signal: AbortSignal): Promise<ArrayBuffer>
  storage?: Pick<Storage, 'getItem' | 'setItem'>
  /** Injected for tests; default performance.now(). */
  now?(): number
  /** Correction period, ms. Default 250. */
  checkIntervalMs?: number
}

const MANUAL_OFFSET_KEY = 'tutti.audio.manualOffsetMs'
/** How often the audio clock is read for #contextOffsetMs (a few hundred cheap reads over its 2 s window). */
const AUDIO_CLOCK_SAMPLE_MS = 8
/** Audio clock read this long before the first start: ~25 readings over 8 steps of 23 ms put the max within ~1 ms of the truth. */
const AUDIO_CLOCK_SETTLE_MS = 200

interface Playing {
  entryId: string
  cid: string
  source: AudioBufferSourceNode
  /** Context time and media position (s) at the last rate change, and the rate since. */
  anchorContext: number
  anchorPosition: number
  rate: number
  startContext: number
  nudging: boolean
}

export class SyncedPlayer {
  readonly #options: SyncedPlayerOptions
  readonly #estimator = new ClockEstimator({ bucketMs: 1000 })
  readonly #now: () => number
  #context: AudioContext | undefined
  #timeline: Timeline | undefined
  #queue: QueueEntry[] = []
  #songUrl: (cid: string) => string = (cid) => cid
  #buffers = new Map<string, AudioBuffer | Promise<AudioBuffer | undefined>>()
  #playing: Playing[] = []
  #abort: AbortController | undefined
  #timers: ReturnType<typeof setTimeout>[] = []
  #listeners = new Set<(playhead: BrowserPlayhead) => void>()
  #last: BrowserPlayhead
  #manualOffsetMs: number
  #offsetReadings: Array<{ at: number; offset: number }> = []
  /** When the sampler first saw the context running (performance.now()). */
  #runningSince: number | undefined
  #muted = false
  /** Every source plays through this (created with the context's first source). */
  #gain: GainNode | undefined

  constructor(options: SyncedPlayerOptions) {
    this.#options = options
    this.#now = options.now ?? (() => performance.now())
    this.#context = options.audioContext
    const stored = Number(this.#storage()?.getItem(MANUAL_OFFSET_KEY) ?? 0)
    this.#manualOffsetMs = Number.isFinite(stored) ? stored : 0
    this.#last = this.#idle('no-timeline')
  }

  /** Start syncing the clock and correcting playback. Call `resume()` from a click before sound can play. */
  start(): void {
    if (this.#abort !== undefined) return
    this.#abort = new AbortController()
    void this.#pingLoop(this.#abort.signal)
    const tick = () => {
      this.#check()
      this.#timers[0] = setTimeout(tick, this.#options.checkIntervalMs ?? 250)
    }
    tick()
    // Read the audio clock often, so the de-jittering max in #contextOffsetMs
    // sees every phase of its steps (see there) well before the next check.
    const sample = () => {
      if (this.#context?.state === 'running') {
        this.#runningSince ??= this.#now()
        this.#contextOffsetMs()
      }
      this.#timers[2] = setTimeout(sample, AUDIO_CLOCK_SAMPLE_MS)
    }
    sample()
  }

  stop(): void {
    this.#abort?.abort()
    this.#abort = undefined
    for (const t of this.#timers) clearTimeout(t)
    this.#timers = []
    this.#stopAll()
  }

  /** Browsers only let audio start after a user gesture: call this from one. */
  async resume(): Promise<void> {
    await this.#ctx().resume()
  }

  get manualOffsetMs(): number {
    return this.#manualOffsetMs
  }

  /** Shift this device: positive plays later, negative earlier. Saved for this browser. */
  set manualOffsetMs(ms: number) {
    if (!Number.isFinite(ms)) return
    this.#manualOffsetMs = ms
    this.#storage()?.setItem(MANUAL_OFFSET_KEY, String(ms))
    this.#check()
  }

  get muted(): boolean {
    return this.#muted
  }

  /** Silence this device (it keeps following the party, so unmuting is instant and in sync). */
  set muted(muted: boolean) {
    this.#muted = muted
    if (this.#gain !== undefined) this.#gain.gain.value = muted ? 0 : 1
  }

  /** Follow a timeline (undefined: silence). `queue` (with exact durations) enables gapless hand-over. */
  setTimeline(
    timeline: Timeline | undefined,
    songUrlForCid: (cid: string) => string,
    queue?: QueueEntry[],
  ): void {
    this.#timeline = timeline
    this.#songUrl = songUrlForCid
    this.#queue = queue ?? (timeline === undefined ? [] : [{ entryId: timeline.entryId, cid: timeline.cid }])
    this.#check()
  }

  playhead(): BrowserPlayhead {
    return this.#last
  }

  onPlayhead(listener: (playhead: BrowserPlayhead) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Party clock estimate against performance.now(), for the UI (uncertainty, drift). */
  clockEstimate() {
    return this.#estimator.estimate(this.#now())
  }

  // — clock —

  async #pingLoop(signal: AbortSignal): Promise<void> {
    let count = 0
    while (!signal.aborted) {
      try {
        const t0 = this.#now()
        const { t1, t2 } = await this.#options.pingPartyClock(
          AbortSignal.any([signal, AbortSignal.timeout(2000)]),
        )
        const t3 = this.#now()
        this.#estimator.addSample({ t0, t1, t2, t3 })
        count++
      } catch {
        if (signal.aborted) return
      }
      // Burst of 8 at start, then every 2 s.
      await new Promise((resolve) => {
        this.#timers[1] = setTimeout(resolve, count < 8 ? 30 : 2000)
      })
    }
  }

  #synced(): boolean {
    return this.#estimator.estimate() !== undefined
  }

  // — audio —

  #ctx(): AudioContext {
    this.#context ??= new AudioContext({ latencyHint: 'playback' })
    return this.#context
  }

  /**
   * contextTime·1000 − performance.now(), de-jittered. `currentTime` moves in
   * steps — a render quantum (128 frames, 2.7 ms) at best, but one audio
   * callback in practice: Chromium with latencyHint 'playback' steps 1024
   * frames (23.2 ms at 44.1 kHz, measured in test/browser/party.test.ts) —
   * and so lags the true audio clock by up to one step when read; the largest
   * reading of the last two seconds is the closest to the truth (the audio
   * clock's own drift against performance.now() is far too slow to matter in
   * that window). The sampler in start() reads it every few ms: with only the
   * 250 ms checks, the first start used one reading (up to a step late).
   */
  #contextOffsetMs(): number {
    const now = this.#now()
    const reading = this.#ctx().currentTime * 1000 - now
    this.#offsetReadings = this.#offsetReadings.filter((r) => now - r.at < 2000)
    this.#offsetReadings.push({ at: now, offset: reading })
    return Math.max(...this.#offsetReadings.map((r) => r.offset))
  }

  /**
   * Whether the audio clock has been read long enough to start a song on it:
   * a start right after resume() would use one or two readings, up to a whole
   * step (23 ms) late, and play that much early until nudged back. (Contexts
   * without `state` — test fakes — have nothing to wait for.)
   */
  #audioClockSettled(perf: number): boolean {
    if (this.#context?.state !== 'running') return true
    return this.#runningSince !== undefined && perf - this.#runningSince >= AUDIO_CLOCK_SETTLE_MS
  }

  #latencySeconds(): number {
    const ctx = this.#ctx()
    return (ctx.outputLatency ?? 0) + (ctx.baseLatency ?? 0)
  }

  /** Context time whose sample is heard at performance time `perfMs`. */
  #contextTimeHeardAt(perfMs: number): number {
    return (perfMs + this.#contextOffsetMs()) / 1000 - this.#latencySeconds()
  }

  /** Performance time at which context time `c` is heard. */
  #heardAtContextTime(c: number): number {
    return (c + this.#latencySeconds()) * 1000 - this.#contextOffsetMs()
  }

  /** Party time that should be heard at performance time `perfMs` (manual offset applied). */
  #partyAt(perfMs: number): number {
    return this.#estimator.toReference(perfMs - this.#manualOffsetMs)
  }

  #perfAtParty(partyMs: number): number {
    return this.#estimator.toLocal(partyMs) + this.#manualOffsetMs
  }

  #buffer(cid: string): AudioBuffer | undefined {
    const known = this.#buffers.get(cid)
    if (known !== undefined && !(known instanceof Promise)) return known
    if (known === undefined) {
      const signal = this.#abort?.signal ?? AbortSignal.timeout(60_000)
      const fetchAudio =
        this.#options.fetchAudio ??
        (async (url: string, s: AbortSignal) => (await fetch(url, { signal: s })).arrayBuffer())
      const loading = fetchAudio(this.#songUrl(cid), signal)
        .then((bytes) => this.#ctx().decodeAudioData(bytes))
        .then((buffer) => {
          this.#buffers.set(cid, buffer)
          this.#check()
          return buffer
        })
        .catch(() => {
          this.#buffers.delete(cid)
          return undefined
        })
      this.#buffers.set(cid, loading)
    }
    return undefined
  }

  /** Run one comparison and correction now (a timer does this every 250 ms; tests and the UI may call it). */
  check(): void {
    this.#check()
  }

  /** The heart: compare what is heard with what should be, then start, nudge or resync. */
  #check(): void {
    const timeline = this.#timeline
    const perf = this.#now()
    if (timeline === undefined) {
      this.#report(this.#idle('no-timeline'))
      return
    }
    if (!this.#synced() || this.#context === undefined) {
      this.#report(this.#idle('loading'))
      return
    }
    if (timeline.paused) {
      this.#stopAll()
      this.#report(this.#idle('paused', timeline))
      return
    }
    const here = locate(timeline, this.#queue, this.#partyAt(perf))
    if (here === undefined) {
      this.#stopAll()
      this.#report(this.#idle('ended'))
      return
    }
    const nextEntry = this.#queue[here.index + 1]
    this.#dropBuffersExcept([here.cid, nextEntry?.cid])
    // Sources of songs that ended (gapless hand-over) or were removed from the queue.
    for (const p of this.#playing.filter(
      (p) => p.entryId !== here.entryId && p.entryId !== nextEntry?.entryId,
    )) {
      this.#stopSource(p)
    }
    const current = this.#playing.find((p) => p.entryId === here.entryId)
    const buffer = this.#buffer(here.cid)
    if (current === undefined) {
      this.#stopAll()
      if (buffer === undefined || !this.#audioClockSettled(perf)) {
        this.#report(this.#idle('loading', here))
        return
      }
      this.#startSource(here.index, buffer)
    } else {
      const heardContext = this.#contextTimeHeardAt(perf)
      const actual = current.anchorPosition + (heardContext - current.anchorContext) * current.rate
      const errorMs = (actual - here.position) * 1000
      const correction = correctionFor(errorMs, current.nudging)
      if (correction.kind === 'resync' && buffer !== undefined) {
        this.#stopAll()
        this.#startSource(here.index, buffer)
      } else if (correction.kind !== 'resync' && correction.rate !== current.rate) {
        const ctx = this.#ctx()
        const at = ctx.currentTime
        current.anchorPosition += (at - current.anchorContext) * current.rate
        current.anchorContext = at
        current.rate = correction.rate
        current.nudging = correction.kind === 'nudge'
        current.source.playbackRate.setValueAtTime(correction.rate, at)
      }
    }
    this.#scheduleNext(here.index)
    this.#reportPlaying(perf, here.position)
  }

  /** Start `queue[index]` so that the position heard at each moment matches the party's. */
  #startSource(index: number, buffer: AudioBuffer): void {
    const timeline = this.#timeline
    if (timeline === undefined) return
    const entry = this.#queue[index]
    const ctx = this.#ctx()
    const startParty = entryStartPartyTime(timeline, this.#queue, index)
    // A little ahead so `when` is not already past when the node gets it.
    const earliest = ctx.currentTime + 0.05
    let when: number
    let offset: number
    if (startParty !== undefined && this.#contextTimeHeardAt(this.#perfAtParty(startParty)) >= earliest) {
      when = this.#contextTimeHeardAt(this.#perfAtParty(startParty))
      offset = 0
    } else {
      when = earliest
      const partyThen = this.#partyAt(this.#heardAtContextTime(when))
      offset = locate(timeline, this.#queue, partyThen)?.position ?? 0
    }
    if (offset >= buffer.duration) return
    const source = ctx.createBufferSource()
    source.buffer = buffer
    source.connect(this.#output(ctx))
    source.start(when, Math.max(0, offset))
    this.#playing.push({
      entryId: entry.entryId,
      cid: entry.cid,
      source,
      anchorContext: when,
      anchorPosition: offset,
      rate: 1,
      startContext: when,
      nudging: false,
    })
  }

  /** Gapless: once the next song is decoded and due within 2 s, schedule it on the party clock. */
  #scheduleNext(index: number): void {
    const timeline = this.#timeline
    const next = this.#queue[index + 1]
    if (timeline === undefined || next === undefined) return
    if (this.#playing.some((p) => p.entryId === next.entryId)) return
    const startParty = entryStartPartyTime(timeline, this.#queue, index + 1)
    if (startParty === undefined) return
    const buffer = this.#buffer(next.cid)
    if (buffer === undefined) return
    if (this.#perfAtParty(startParty) - this.#now() > 2000) return
    this.#startSource(index + 1, buffer)
  }

  /** Where sources play into: the mute gain node (contexts without createGain — test fakes — play straight out). */
  #output(ctx: AudioContext): AudioNode {
    if (typeof ctx.createGain !== 'function') return ctx.destination
    if (this.#gain === undefined) {
      this.#gain = ctx.createGain()
      this.#gain.gain.value = this.#muted ? 0 : 1
      this.#gain.connect(ctx.destination)
    }
    return this.#gain
  }

  #stopAll(): void {
    for (const p of [...this.#playing]) this.#stopSource(p)
  }

  #stopSource(p: Playing): void {
    try {
      p.source.stop()
    } catch {
      // never started or already stopped
    }
    p.source.disconnect()
    this.#playing = this.#playing.filter((q) => q !== p)
  }

  #dropBuffersExcept(keep: Array<string | undefined>): void {
    for (const cid of this.#buffers.keys()) if (!keep.includes(cid)) this.#buffers.delete(cid)
  }

  #reportPlaying(perf: number, targetPosition: number): void {
    const heardContext = this.#contextTimeHeardAt(perf)
    const current = this.#playing.find((p) => p.startContext <= heardContext) ?? this.#playing[0]
    if (current === undefined) {
      this.#report(this.#idle('loading'))
      return
    }
    const position = current.anchorPosition + (heardContext - current.anchorContext) * current.rate
    const started = heardContext >= current.startContext
    this.#report({
      localTime: perf,
      mediaPosition: started ? position : 0,
      rate: started ? current.rate : 0,
      entryId: current.entryId,
      cid: current.cid,
      playing: started,
      ...(started ? {} : { idle: 'before-start' as const }),
      partyTime: this.#estimator.toReference(perf),
      errorMs: started ? (position - targetPosition) * 1000 : undefined,
    })
  }

  #idle(why: PlayheadMapping['idle'], entry?: { entryId: string; cid: string }): BrowserPlayhead {
    const perf = this.#now()
    return {
      localTime: perf,
      mediaPosition: 0,
      rate: 0,
      entryId: entry?.entryId,
      cid: entry?.cid,
      playing: false,
      idle: why,
      partyTime: this.#synced() ? this.#estimator.toReference(perf) : undefined,
      errorMs: undefined,
    }
  }

  #report(playhead: BrowserPlayhead): void {
    this.#last = playhead
    for (const listener of this.#listeners) listener(playhead)
  }

  #storage(): Pick<Storage, 'getItem' | 'setItem'> | undefined {
    if (this.#options.storage !== undefined) return this.#options.storage
    return typeof localStorage === 'undefined' ? undefined : localStorage
  }
}
