/**
 * The member side of `/tutti/party/1.0.0`: one stream to the host. Says
 * hello with the invite secret, keeps a replica of the party from the
 * host's snapshot + committed entries, signs and submits commands, and runs
 * 1 s heartbeats. Party time (the host's clock, estimated by src/clock's
 * estimator) comes from `/tutti/clock/1.0.0` exchanges on a stream of their
 * own — every 50 ms while young or unsure, then every 100 ms — and from
 * the heartbeats' own timestamps; a host that does not serve the clock
 * protocol, or whose clock stream failed, is sampled by fast pings while a
 * new clock stream is tried (after 2 s, doubling to a minute). If the host
 * falls silent the member reports it suspected, then reconnects and resyncs.
 */
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { ClockEstimator, type ClockEstimatorOptions } from '../clock/estimator.ts'
import { runClockExchanges } from '../clock/exchange.ts'
import { FramedStream } from '../net/framed.ts'
import type { TuttiLibp2p } from '../net/libp2p.ts'
import type { Clock } from '../shared/clock.ts'
import { TypedEmitter } from '../shared/events.ts'
import { log } from '../shared/logger.ts'
import { HostUnreachableError, JoinRefusedError } from './errors.ts'
import { GapError, PartyReplica } from './log.ts'
import {
  type HostToMember,
  hostToMemberSchema,
  type Invite,
  MAX_PARTY_MESSAGE_BYTES,
  type MemberStat,
  type MemberToHost,
  memberToHostSchema,
  PARTY_PROTOCOL,
} from './schema.ts'
import { signCommand } from './signing.ts'
import type { CommandResult, PartyCommand, PartyLogEntry } from './state.ts'

const logger = log('party:member')

/** After (re)connecting, clock samples go out every 50 ms for this long (and until party time is trustworthy)… */
const FAST_SAMPLING_MS = 10_000
/**
 * …then every 100 ms. The estimate rests on each direction's least delays,
 * and the more exchanges there are, the nearer those come to the path's
 * floor: on a 40 ± 10 ms path with other traffic queued ahead of many of them
 * (bench:sync delay profile), every 250 ms left the floors 1–3 ms apart for
 * tens of seconds, and every 100 ms brought the pairwise playhead error's p99
 * from 3.3 to 2.3 ms. The cost is ~100 bytes each way per exchange.
 */
const STEADY_SAMPLING_MS = 100
/** After the clock stream fails, sample by pings and try a clock stream again this much later (doubling to a minute). */
const CLOCK_RETRY_MS = 2_000
const CLOCK_RETRY_MAX_MS = 60_000

/**
 * A member's party-clock estimator: one filter bucket per second; drift fitted
 * once the samples span 5 s, or 10 s on a jittery path. There, fitted after
 * 5 s, the drift was often 100–500 ppm off in the first half-minute:
 * test/clock/member-options.test.ts replays three members' first minute of a
 * bench:sync delay run (offset p99 6.6 → 4.8 ms, worst 7.5 → 5.2 ms); over
 * three whole runs' traces, p99 4.3 → 3.4 ms. On a LAN the 5 s fit is good,
 * and 10 s without drift cost up to 1.1 ms at ±200 ppm (bench:sync lan p99
 * 0.04 → 0.83 ms).
 */
export const MEMBER_CLOCK_OPTIONS: ClockEstimatorOptions = {
  bucketMs: 1_000,
  minDriftSpanMs: 5_000,
  jitteryDriftSpanMs: 10_000,
}

export interface PartyMemberInit {
  invite: Invite
  name: string
  heartbeatMs?: number
  suspectAfterMs?: number
  /** After this long without the host, the member reconnects (and gives up after `giveUpAfterMs`). */
  reconnectAfterMs?: number
  giveUpAfterMs?: number
  commandTimeoutMs?: number
}

export interface PartyMemberComponents {
  libp2p: TuttiLibp2p
  clock: Clock
  privateKey: PrivateKey
}

export interface PartyMemberEvents extends Record<string, unknown> {
  /** A committed entry was applied to the replica. */
  entry: { index: number; entry: PartyLogEntry; result: CommandResult }
  /** A fresh snapshot replaced the replica (join, resync). */
  snapshot: { index: number }
  pending: undefined
  stats: MemberStat[]
  'host:suspected': undefined
  'host:back': undefined
  /** The member is out of the party for good (removed, refused, ended, host gone). */
  closed: { reason: string }
}

type Framed = FramedStream<HostToMember, MemberToHost>

export class PartyMember extends TypedEmitter<PartyMemberEvents> {
  readonly #init: Required<Omit<PartyMemberInit, 'invite' | 'name'>> &
    Pick<PartyMemberInit, 'invite' | 'name'>
  readonly #libp2p: TuttiLibp2p
  readonly #clock: Clock
  readonly #privateKey: PrivateKey
  readonly #estimator = new ClockEstimator(MEMBER_CLOCK_OPTIONS)
  readonly #session = crypto.randomUUID()
  readonly #pendingRequests = new Map<number, (r: { index?: number; result: CommandResult }) => void>()
  #seq = 0
  #requestId = 0
  #pingId = 0
  #clockSamples = 0
  #connectedAt = 0
  #fastPing: ReturnType<typeof setInterval> | undefined
  #clockRetry: ReturnType<typeof setTimeout> | undefined
  /** Clock streams failed in a row (the retry backs off). */
  #clockFailures = 0
  #clockExchange: AbortController | undefined
  #framed: Framed | undefined
  #replica: PartyReplica | undefined
  #stats: MemberStat[] = []
  #lastHeard = 0
  #hostSuspected = false
  #timer: ReturnType<typeof setInterval> | undefined
  #stopped = false
  #reconnecting = false
  #sendChain: Promise<void> = Promise.resolve()
  #welcomed: PromiseWithResolvers<void> | undefined

  constructor(init: PartyMemberInit, components: PartyMemberComponents) {
    super()
    // Field by field: an init that passes `heartbeatMs: undefined` must get the default, not a 1 ms timer.
    this.#init = {
      ...init,
      heartbeatMs: init.heartbeatMs ?? 1_000,
      suspectAfterMs: init.suspectAfterMs ?? 3_000,
      reconnectAfterMs: init.reconnectAfterMs ?? 5_000,
      giveUpAfterMs: init.giveUpAfterMs ?? 60_000,
      commandTimeoutMs: init.commandTimeoutMs ?? 10_000,
    }
    this.#libp2p = components.libp2p
    this.#clock = components.clock
    this.#privateKey = components.privateKey
  }

  get replica(): PartyReplica | undefined {
    return this.#replica
  }

  get stats(): MemberStat[] {
    return this.#stats
  }

  /** Party time now: the host's clock as estimated from heartbeats. */
  partyTime(): number {
    return this.#estimator.toReference(this.#clock.now())
  }

  /** Party time at local clock time `localMs`. */
  partyTimeAt(localMs: number): number {
    return this.#estimator.toReference(localMs)
  }

  /** The local clock time at which party time `partyMs` happens. */
  localTimeOf(partyMs: number): number {
    return this.#estimator.toLocal(partyMs)
  }

  /**
   * True once party time is trustworthy: a few samples and an uncertainty under
   * 10 ms (on a slow path: under 50 ms after 6 s, anything after 12 s). Before that, party time is a
   * guess and players wait — a late joiner starts a moment later rather than
   * at the wrong place.
   */
  clockReady(): boolean {
    if (this.#clockSamples < 3) return false
    const uncertainty = this.#estimator.estimate(this.#clock.now())?.uncertaintyMs ?? Number.POSITIVE_INFINITY
    const waited = this.#clock.now() - this.#connectedAt
    // Loose bounds only after a while: playing 30 ms off next to another speaker sounds like an echo; silence for a few more seconds does not.
    return uncertainty < 10 || (waited > 6_000 && uncertainty < 50) || waited > 12_000
  }

  syncErrorMs(): number | undefined {
    return this.#estimator.estimate(this.#clock.now())?.uncertaintyMs
  }

  /**
   * Connects, says hello and waits for the host's welcome (resolves) or refusal
   * (throws `JoinRefusedError`). With a join policy of "approve" this waits
   * until the host decides — emitting `pending` meanwhile — or `signal` aborts.
   */
  async join(options?: { signal?: AbortSignal }): Promise<void> {
    this.#stopped = false
    await this.#connect(options)
    // The fast pings' answers follow the welcome: wait (briefly) for a first party-clock estimate.
    for (let i = 0; i < 60 && this.#clockSamples < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    if (this.#timer === undefined && !this.#stopped)
      this.#timer = setInterval(() => this.#tick(), this.#init.heartbeatMs)
  }

  /** Says goodbye (the host commits a leave) and hangs up. Idempotent. */
  async leave(): Promise<void> {
    if (this.#stopped) return
    await this.#write({ type: 'bye' }).catch(() => {})
    await this.#sendChain
    this.#shutdown('you left the party')
  }

  /** Hangs up without saying goodbye (the host will notice the silence). */
  stop(): void {
    this.#shutdown('stopped')
  }

  /** Signs and submits a command; resolves with the host's verdict once committed (or refused). */
  async submit(
    command: PartyCommand,
    options?: { signal?: AbortSignal; requestId?: string },
  ): Promise<{ index?: number; result: CommandResult }> {
    if (this.#framed === undefined) {
      return { result: { ok: false, code: 'unavailable', reason: 'not connected to the party host' } }
    }
    const { payload, signature } = await signCommand(this.#privateKey, {
      partyId: this.#init.invite.partyId,
      from: this.#libp2p.peerId.toString(),
      session: this.#session,
      seq: this.#seq++,
      command,
      ...(options?.requestId === undefined ? {} : { requestId: options.requestId }),
    })
    const requestId = this.#requestId++ % 2 ** 31
    const answer = new Promise<{ index?: number; result: CommandResult }>((resolve) => {
      const timeout = setTimeout(() => {
        this.#pendingRequests.delete(requestId)
        resolve({ result: { ok: false, code: 'unavailable', reason: 'the host did not answer in time' } })
      }, this.#init.commandTimeoutMs)
      const done = (r: { index?: number; result: CommandResult }) => {
        clearTimeout(timeout)
        options?.signal?.removeEventListener('abort', onAbort)
        resolve(r)
      }
      const onAbort = () => {
        this.#pendingRequests.delete(requestId)
        done({ result: { ok: false, code: 'unavailable', reason: 'aborted' } })
      }
      options?.signal?.addEventListener('abort', onAbort, { once: true })
      this.#pendingRequests.set(requestId, done)
    })
    await this.#write({
      type: 'submit',
      requestId,
      payload: payload as Uint8Array<ArrayBuffer>,
      signature: signature as Uint8Array<ArrayBuffer>,
    })
    return answer
  }

  async #connect(options?: { signal?: AbortSignal }): Promise<void> {
    const { invite } = this.#init
    const dialStart = this.#clock.now()
    const stream = await this.#dialHost(options)
    if (this.#stopped) {
      // Stopped while dialling (e.g. the leader changed again): no timers may outlive stop().
      stream.abort(new Error('member stopped'))
      throw new HostUnreachableError('stopped while connecting')
    }
    logger('dialled the host in %s ms', (this.#clock.now() - dialStart).toFixed(1))
    const framed: Framed = new FramedStream(stream, hostToMemberSchema, memberToHostSchema, {
      maxMessageBytes: MAX_PARTY_MESSAGE_BYTES,
    })
    this.#framed = framed
    this.#sendChain = Promise.resolve()
    this.#lastHeard = this.#clock.now()
    this.#welcomed = Promise.withResolvers<void>()
    void this.#welcomed.promise.catch(() => {})
    await this.#write({
      type: 'hello',
      partyId: invite.partyId,
      secret: invite.secret,
      name: this.#init.name,
      haveIndex: this.#replica?.index,
    })
    void this.#readLoop(framed)
    this.#connectedAt = this.#clock.now()
    this.#startClockExchange(framed)
    this.#ping()
    const onAbort = () => this.#welcomed?.reject(new HostUnreachableError('join aborted'))
    options?.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await this.#welcomed.promise
    } finally {
      options?.signal?.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Fast clock samples (every 50 ms) for the first seconds and until party
   * time is trustworthy — more candidates per bucket, so the min-delay filter
   * finds a quiet moment even on a loaded machine — then one per heartbeat.
   */
  #sampleDelayMs(): number {
    const young = this.#clock.now() - this.#connectedAt < FAST_SAMPLING_MS
    return young || !this.clockReady() ? 50 : STEADY_SAMPLING_MS
  }

  #startClockExchange(framed: Framed): void {
    this.#clockExchange?.abort()
    const controller = new AbortController()
    this.#clockExchange = controller
    if (this.#fastPing !== undefined) clearInterval(this.#fastPing)
    this.#fastPing = undefined
    clearTimeout(this.#clockRetry)
    this.#clockRetry = undefined
    runClockExchanges(
      { libp2p: this.#libp2p, clock: this.#clock },
      {
        reference: peerIdFromString(this.#init.invite.hostPeerId),
        signal: controller.signal,
        nextDelayMs: () => this.#sampleDelayMs(),
      },
      (sample) => {
        this.#clockFailures = 0
        this.#addClockSample(sample)
      },
    ).catch((err: Error) => {
      if (controller.signal.aborted || this.#framed !== framed) return
      this.#clockFailures++
      // No clock stream (an older host, or it failed): sample by pings on the session instead.
      logger('clock exchange failed, sampling by pings: %s', err.message)
      this.#fastPing = setInterval(() => {
        if (this.#framed === framed && this.#sampleDelayMs() < STEADY_SAMPLING_MS) return this.#ping()
        clearInterval(this.#fastPing)
        this.#fastPing = undefined
      }, 50)
      // A stream that failed (a reset, a connection that went away) is worth another try, backing off for a
      // host that serves none: pings on the session ride behind party traffic and make poorer samples.
      const retryMs = Math.min(CLOCK_RETRY_MAX_MS, CLOCK_RETRY_MS * 2 ** (this.#clockFailures - 1))
      this.#clockRetry = setTimeout(() => {
        this.#clockRetry = undefined
        if (this.#framed === framed && !this.#stopped) this.#startClockExchange(framed)
      }, retryMs)
    })
  }

  #addClockSample(sample: { t0: number; t1: number; t2: number; t3: number }): void {
    if (this.#estimator.addSample(sample)) this.#clockSamples++
    logger(
      'clock sample: delay %s ms, offset %s ms',
      (sample.t3 - sample.t0).toFixed(2),
      this.#estimator.estimate()?.offsetMs.toFixed(2),
    )
  }

  async #dialHost(options?: { signal?: AbortSignal }) {
    const { invite } = this.#init
    const hostId = peerIdFromString(invite.hostPeerId)
    const errors: string[] = []
    for (const addr of invite.hostAddrs) {
      try {
        const ma = multiaddr(addr.includes('/p2p/') ? addr : `${addr}/p2p/${invite.hostPeerId}`)
        return await this.#libp2p.dialProtocol(ma, PARTY_PROTOCOL, {
          signal: options?.signal ?? AbortSignal.timeout(10_000),
        })
      } catch (err) {
        errors.push(`${addr}: ${(err as Error).message}`)
      }
    }
    try {
      return await this.#libp2p.dialProtocol(hostId, PARTY_PROTOCOL, {
        signal: options?.signal ?? AbortSignal.timeout(10_000),
      })
    } catch (err) {
      errors.push(`${invite.hostPeerId}: ${(err as Error).message}`)
      throw new HostUnreachableError(`cannot reach the party host (${errors.join('; ')})`, { cause: err })
    }
  }

  async #readLoop(framed: Framed): Promise<void> {
    try {
      for await (const message of framed.messages()) {
        if (this.#framed !== framed) return
        this.#lastHeard = this.#clock.now()
        if (this.#hostSuspected) {
          this.#hostSuspected = false
          this.emit('host:back', undefined)
        }
        this.#onMessage(message)
      }
    } catch (err) {
      if (err instanceof GapError) logger('resync: %s', err.message)
      else logger('stream from host failed: %s', (err as Error).message)
      framed.abort(err as Error)
    }
    if (this.#framed === framed) {
      this.#framed = undefined
      this.#welcomed?.reject(new HostUnreachableError('the host hung up'))
    }
  }

  #onMessage(message: HostToMember): void {
    switch (message.type) {
      case 'welcome':
        logger('welcome at index %d', message.index)
        if (message.partyId !== this.#init.invite.partyId) throw new Error('welcome for another party')
        this.#replica = new PartyReplica(message.snapshot, message.index)
        this.emit('snapshot', { index: message.index })
        this.#welcomed?.resolve()
        return
      case 'pending':
        this.emit('pending', undefined)
        return
      case 'refused':
        this.#welcomed?.reject(new JoinRefusedError(message.reason))
        this.#shutdown(message.reason)
        return
      case 'entry': {
        if (this.#replica === undefined) return
        // A gap throws GapError: the read loop ends and the heartbeat reconnects with a fresh snapshot.
        const result = this.#replica.apply(message.index, message.entry)
        if (result !== undefined)
          this.emit('entry', { index: message.index, entry: message.entry, result: message.result })
        if (this.#replica.state.ended) this.#shutdown('the host ended the party')
        return
      }
      case 'result':
        this.#pendingRequests.get(message.requestId)?.({ index: message.index, result: message.result })
        this.#pendingRequests.delete(message.requestId)
        return
      case 'ping': {
        const now = this.#clock.now()
        void this.#write({ type: 'pong', id: message.id, t0: message.t0, t1: now, t2: now }).catch(() => {})
        return
      }
      case 'pong':
        this.#addClockSample({ t0: message.t0, t1: message.t1, t2: message.t2, t3: this.#clock.now() })
        return
      case 'members':
        this.#stats = message.stats
        this.emit('stats', message.stats)
        return
    }
  }

  #tick(): void {
    if (this.#stopped) return
    const silent = this.#clock.now() - this.#lastHeard
    if (silent >= this.#init.giveUpAfterMs) {
      this.#shutdown(`the host stopped answering for ${Math.round(silent / 1000)} s`)
      return
    }
    if (silent >= this.#init.suspectAfterMs && !this.#hostSuspected) {
      this.#hostSuspected = true
      this.emit('host:suspected', undefined)
    }
    if ((this.#framed === undefined || silent >= this.#init.reconnectAfterMs) && !this.#reconnecting) {
      this.#reconnecting = true
      this.#framed?.abort(new Error('host silent'))
      this.#framed = undefined
      this.#connect({ signal: AbortSignal.timeout(5_000) })
        .catch((err: Error) => {
          logger('reconnect failed: %s', err.message)
        })
        .finally(() => {
          this.#reconnecting = false
        })
      return
    }
    this.#ping()
  }

  #ping(): void {
    void this.#write({
      type: 'ping',
      id: this.#pingId++ % 2 ** 31,
      t0: this.#clock.now(),
      syncErrorMs: this.syncErrorMs(),
    }).catch(() => {})
  }

  #write(message: MemberToHost): Promise<void> {
    const framed = this.#framed
    if (framed === undefined) return Promise.reject(new HostUnreachableError('not connected to the host'))
    const next = this.#sendChain.then(() => framed.write(message))
    this.#sendChain = next.catch(() => {})
    return next
  }

  #shutdown(reason: string): void {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    if (this.#fastPing !== undefined) clearInterval(this.#fastPing)
    this.#fastPing = undefined
    clearTimeout(this.#clockRetry)
    this.#clockRetry = undefined
    this.#clockExchange?.abort()
    this.#clockExchange = undefined
    const framed = this.#framed
    this.#framed = undefined
    void framed?.close()
    this.#welcomed?.reject(new HostUnreachableError(reason))
    for (const done of this.#pendingRequests.values())
      done({ result: { ok: false, code: 'unavailable', reason } })
    this.#pendingRequests.clear()
    this.emit('closed', { reason })
  }
}
