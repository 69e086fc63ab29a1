/**
 * The host side of `/tutti/party/1.0.0`: admits members (invite secret, join
 * policy), verifies and orders their signed commands into the party log,
 * stamps playback changes far enough ahead for every member, streams
 * committed entries, and watches heartbeats — a member silent for 3 s is
 * suspected, for 10 s removed (it may rejoin). Anything malformed, forged or
 * from a stranger is refused; the host keeps running.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { FramedStream } from '../net/framed.ts'
import type { Clock } from '../shared/clock.ts'
import { TypedEmitter } from '../shared/events.ts'
import { log } from '../shared/logger.ts'
import { effectLeadMs } from './lead-time.ts'
import type { CommittedEntry, PartyLog } from './log.ts'
import {
  type HostToMember,
  hostToMemberSchema,
  MAX_PARTY_MESSAGE_BYTES,
  type MemberStat,
  type MemberToHost,
  memberToHostSchema,
  SET_HOST_REFUSAL,
} from './schema.ts'
import { verifySignedCommand } from './signing.ts'
import { type CommandResult, memberOf, type PartyCommand, PLAYBACK_COMMANDS } from './state.ts'

const logger = log('party:host')

/** A member may submit at most this many commands per second (a UI never needs more; a flood is refused). */
export const MAX_SUBMITS_PER_SECOND = 20

export interface PartyHostInit {
  partyId: string
  secret: string
  heartbeatMs?: number
  suspectAfterMs?: number
  removeAfterMs?: number
  /** How long a new stream has to say hello. */
  helloTimeoutMs?: number
  /** A host taking over after failover: the latest effective party time already in the log (stamps never go back before it). */
  lastEffectivePartyTime?: number
}

export interface PartyHostComponents {
  clock: Clock
  log: PartyLog
  selfPeerId: string
}

export interface PartyHostEvents extends Record<string, unknown> {
  'member:suspected': { peerId: string }
  'member:removed': { peerId: string; reason: string }
  'member:stats': MemberStat[]
  /** A message or stream the host refused (malformed, forged, stranger). */
  refused: { peerId: string; reason: string }
}

type Framed = FramedStream<MemberToHost, HostToMember>

interface Session {
  peerId: string
  framed: Framed
  /** 'pending' until the host approves the join; 'member' streams log entries. */
  phase: 'pending' | 'member'
  /** Outgoing messages are written one at a time, in order. */
  sendChain: Promise<void>
  closed: boolean
  /** Submits in the current one-second window (rate limit). */
  window: { start: number; count: number }
}

interface Liveness {
  lastSeen: number
  rttMs?: number
  syncErrorMs?: number
  suspected: boolean
  /** Highest seq seen per signing session: replays are refused. */
  seqs: Map<string, number>
}

export class PartyHost extends TypedEmitter<PartyHostEvents> {
  readonly #init: Required<PartyHostInit>
  readonly #clock: Clock
  readonly #log: PartyLog
  readonly #self: string
  readonly #sessions = new Map<string, Session>()
  readonly #liveness = new Map<string, Liveness>()
  #lastEffective = Number.NEGATIVE_INFINITY
  #pingId = 0
  #timer: ReturnType<typeof setInterval> | undefined
  #unsubscribe: (() => void) | undefined
  /** Orders proposals: the log sees them one at a time, with monotonic effective times. */
  #proposeChain: Promise<unknown> = Promise.resolve()

  constructor(init: PartyHostInit, components: PartyHostComponents) {
    super()
    this.#lastEffective = init.lastEffectivePartyTime ?? Number.NEGATIVE_INFINITY
    // Field by field: an init that passes `heartbeatMs: undefined` must get the default, not a 1 ms timer.
    this.#init = {
      ...init,
      lastEffectivePartyTime: init.lastEffectivePartyTime ?? Number.NEGATIVE_INFINITY,
      heartbeatMs: init.heartbeatMs ?? 1_000,
      suspectAfterMs: init.suspectAfterMs ?? 3_000,
      removeAfterMs: init.removeAfterMs ?? 10_000,
      helloTimeoutMs: init.helloTimeoutMs ?? 5_000,
    }
    this.#clock = components.clock
    this.#log = components.log
    this.#self = components.selfPeerId
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#unsubscribe = this.#log.onCommitted((c) => this.#onCommitted(c))
    this.#timer = setInterval(() => this.#tick(), this.#init.heartbeatMs)
  }

  /** Stops heartbeats and hangs up on every member, after flushing what is queued to them (at most 1 s). */
  async stop(): Promise<void> {
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#unsubscribe?.()
    const sessions = [...this.#sessions.values()]
    this.#sessions.clear()
    await Promise.race([
      Promise.allSettled(sessions.map((s) => s.sendChain)),
      new Promise((resolve) => setTimeout(resolve, 1_000)),
    ])
    for (const s of sessions) this.#closeSession(s)
  }

  /** Current RTT-derived lead for playback changes (ms). */
  leadMs(): number {
    const rtts: Array<number | undefined> = []
    for (const m of this.#log.state.members)
      if (m.peerId !== this.#self) rtts.push(this.#liveness.get(m.peerId)?.rttMs)
    return effectLeadMs(rtts)
  }

  stats(): MemberStat[] {
    const now = this.#clock.now()
    return this.#log.state.members.map((m) => {
      if (m.peerId === this.#self)
        return { peerId: m.peerId, rttMs: 0, syncErrorMs: 0, lastSeenAgoMs: 0, suspected: false }
      const l = this.#liveness.get(m.peerId)
      return {
        peerId: m.peerId,
        rttMs: l?.rttMs,
        syncErrorMs: l?.syncErrorMs,
        lastSeenAgoMs: l === undefined ? Number.MAX_SAFE_INTEGER : now - l.lastSeen,
        suspected: l?.suspected ?? true,
      }
    })
  }

  /** A command from `from` (the host itself, or a verified member): stamped, ordered, committed. */
  submit(
    command: PartyCommand,
    from: string,
    options?: { signal?: AbortSignal; requestId?: string },
  ): Promise<{ index: number; result: CommandResult }> {
    const requestId = options?.requestId
    const run = async () => {
      const now = this.#clock.now()
      const stamp = PLAYBACK_COMMANDS.has(command.type) ? now + this.leadMs() : now
      // Effective times never go backwards in the log: a queue edit must not land before an earlier-stamped play.
      const effectivePartyTime = Math.max(stamp, this.#lastEffective)
      this.#lastEffective = effectivePartyTime
      // `proposer` is always this node: the state machine accepts set-host only from the proposer itself.
      const entry =
        requestId === undefined
          ? { command, from, effectivePartyTime, proposer: this.#self }
          : { command, from, effectivePartyTime, requestId, proposer: this.#self }
      return this.#log.propose(entry, options)
    }
    const next = this.#proposeChain.then(run, run)
    this.#proposeChain = next.catch(() => {})
    return next
  }

  /** The `/tutti/party/1.0.0` stream handler. */
  async handleStream(stream: Stream, connection: Connection): Promise<void> {
    const peerId = connection.remotePeer.toString()
    const framed: Framed = new FramedStream(stream, memberToHostSchema, hostToMemberSchema, {
      maxMessageBytes: MAX_PARTY_MESSAGE_BYTES,
    })
    let session: Session | undefined
    try {
      const hello = await framed.read({ signal: AbortSignal.timeout(this.#init.helloTimeoutMs) })
      if (hello === undefined) return
      if (hello.type !== 'hello') return this.#refuseStream(framed, peerId, 'expected hello first')
      if (hello.partyId !== this.#init.partyId)
        return this.#refuseStream(framed, peerId, 'no such party here')
      if (hello.secret !== this.#init.secret) return this.#refuseStream(framed, peerId, 'wrong invite secret')
      session = {
        peerId,
        framed,
        phase: 'pending',
        sendChain: Promise.resolve(),
        closed: false,
        window: { start: 0, count: 0 },
      }
      const previous = this.#sessions.get(peerId)
      if (previous !== undefined) this.#closeSession(previous)
      this.#sessions.set(peerId, session)
      this.#touch(peerId)
      const { result } = await this.submit({ type: 'join', name: hello.name }, peerId)
      if (!result.ok) {
        this.#sessions.delete(peerId)
        return this.#refuseStream(framed, peerId, result.reason)
      }
      // The commit listener already welcomed an admitted member; a request awaiting approval hears 'pending'.
      if (session.phase === 'pending' && memberOf(this.#log.state, peerId) === undefined) {
        this.#send(session, { type: 'pending', partyId: this.#init.partyId })
      }

      for await (const message of framed.messages()) {
        this.#touch(peerId)
        await this.#onMessage(session, message)
        if (session.closed) break
      }
    } catch (err) {
      logger('stream from %s ended: %s', peerId, (err as Error).message)
      this.emit('refused', { peerId, reason: (err as Error).message })
      framed.abort(err as Error)
    } finally {
      if (session !== undefined) {
        session.closed = true
        if (this.#sessions.get(peerId) === session) this.#sessions.delete(peerId)
      }
    }
  }

  async #onMessage(session: Session, message: MemberToHost): Promise<void> {
    switch (message.type) {
      case 'hello':
        return // duplicate hello: harmless
      case 'ping': {
        const now = this.#clock.now()
        const l = this.#liveness.get(session.peerId)
        if (l !== undefined && message.syncErrorMs !== undefined) l.syncErrorMs = message.syncErrorMs
        this.#send(session, { type: 'pong', id: message.id, t0: message.t0, t1: now, t2: now })
        return
      }
      case 'pong': {
        const l = this.#liveness.get(session.peerId)
        const rtt = this.#clock.now() - message.t0
        if (l !== undefined && rtt >= 0 && rtt < 60_000)
          l.rttMs = l.rttMs === undefined ? rtt : l.rttMs * 0.7 + rtt * 0.3
        return
      }
      case 'bye':
        session.closed = true
        if (memberOf(this.#log.state, session.peerId) !== undefined)
          await this.submit({ type: 'leave' }, session.peerId).catch((err: Error) =>
            logger('leave of %s not committed: %s', session.peerId, err.message),
          )
        this.#liveness.delete(session.peerId)
        await session.framed.close()
        return
      case 'submit': {
        const result = await this.#onSubmit(session, message.payload, message.signature)
        this.#send(session, {
          type: 'result',
          requestId: message.requestId,
          index: result.index,
          result: result.result,
        })
        return
      }
    }
  }

  async #onSubmit(
    session: Session,
    payload: Uint8Array,
    signature: Uint8Array,
  ): Promise<{ index?: number; result: CommandResult }> {
    const refuse = (reason: string) => {
      this.emit('refused', { peerId: session.peerId, reason })
      return { result: { ok: false as const, code: 'invalid' as const, reason } }
    }
    const now = this.#clock.now()
    if (now - session.window.start >= 1_000) session.window = { start: now, count: 0 }
    if (++session.window.count > MAX_SUBMITS_PER_SECOND) return refuse('too many commands: slow down')
    const verified = await verifySignedCommand(payload, signature)
    if (!verified.ok) return refuse(verified.reason)
    const { signed } = verified
    if (signed.partyId !== this.#init.partyId) return refuse('wrong party id')
    // Commands are relayed by no one yet: the signer must be the peer on this (noise-authenticated) connection.
    if (signed.from !== session.peerId) return refuse('command signed by another peer')
    if (signed.command.type === 'join') return refuse('join through hello, not as a command')
    // Only the elected leader makes itself the host, by its own proposal; a member never submits set-host.
    if (signed.command.type === 'set-host') {
      this.emit('refused', { peerId: session.peerId, reason: SET_HOST_REFUSAL })
      return { result: { ok: false, code: 'forbidden', reason: SET_HOST_REFUSAL } }
    }
    const l = this.#liveness.get(session.peerId)
    if (l !== undefined) {
      const last = l.seqs.get(signed.session)
      if (last !== undefined && signed.seq <= last) return refuse('replayed command')
      l.seqs.set(signed.session, signed.seq)
      if (l.seqs.size > 16) l.seqs.delete(l.seqs.keys().next().value as string)
    }
    if (session.phase !== 'member') return refuse('waiting for the host to approve your join request')
    try {
      return await this.submit(signed.command, signed.from, { requestId: signed.requestId })
    } catch (err) {
      // Not the leader any more, or the entry was overwritten by a new leader: the member retries (same request id) at the new host.
      return {
        result: { ok: false, code: 'unavailable', reason: `not committed: ${(err as Error).message}` },
      }
    }
  }

  #onCommitted(c: CommittedEntry): void {
    const msg: HostToMember = { type: 'entry', index: c.index, entry: c.entry, result: c.result }
    for (const session of this.#sessions.values()) {
      if (session.phase === 'member') {
        if (memberOf(c.state, session.peerId) === undefined) {
          // Removed, rejected or left: tell them and hang up.
          this.#send(session, msg)
          this.#send(session, { type: 'refused', reason: removalReason(c) })
          void session.sendChain.then(() => this.#closeSession(session))
          continue
        }
        this.#send(session, msg)
      } else if (memberOf(c.state, session.peerId) !== undefined) {
        this.#welcome(session) // approved
      } else if (
        // Only a rejection ends a pending request: with a replicated log other entries commit while our join is in flight.
        c.entry.command.type === 'reject' &&
        c.entry.command.peerId === session.peerId &&
        c.result.ok
      ) {
        this.#send(session, { type: 'refused', reason: 'the host declined your join request' })
        void session.sendChain.then(() => this.#closeSession(session))
      }
    }
    if (c.entry.command.type === 'remove-member' || c.entry.command.type === 'leave') {
      const gone = c.entry.command.type === 'leave' ? c.entry.from : c.entry.command.peerId
      if (c.result.ok) this.#liveness.delete(gone)
    }
  }

  #welcome(session: Session): void {
    session.phase = 'member'
    this.#send(session, {
      type: 'welcome',
      partyId: this.#init.partyId,
      index: this.#log.commitIndex,
      snapshot: this.#log.state,
    })
  }

  #tick(): void {
    const now = this.#clock.now()
    for (const session of this.#sessions.values()) {
      this.#send(session, { type: 'ping', id: this.#pingId++ % 2 ** 31, t0: now })
    }
    for (const member of this.#log.state.members) {
      if (member.peerId === this.#self) continue
      let l = this.#liveness.get(member.peerId)
      if (l === undefined) {
        // A member we have never heard from on this host (e.g. a restored log): start its grace period now.
        l = { lastSeen: now, suspected: false, seqs: new Map() }
        this.#liveness.set(member.peerId, l)
      }
      const silent = now - l.lastSeen
      if (silent >= this.#init.removeAfterMs) {
        this.#liveness.delete(member.peerId)
        const reason = `stopped answering for ${Math.round(silent / 1000)} s`
        this.emit('member:removed', { peerId: member.peerId, reason })
        this.submit({ type: 'remove-member', peerId: member.peerId, reason }, this.#self).catch(
          (err: Error) => logger('removing %s failed: %s', member.peerId, err.message),
        )
      } else if (silent >= this.#init.suspectAfterMs && !l.suspected) {
        l.suspected = true
        this.emit('member:suspected', { peerId: member.peerId })
      }
    }
    const stats = this.stats()
    this.emit('member:stats', stats)
    for (const session of this.#sessions.values())
      if (session.phase === 'member') this.#send(session, { type: 'members', stats })
  }

  #touch(peerId: string): void {
    const now = this.#clock.now()
    const l = this.#liveness.get(peerId)
    if (l === undefined) this.#liveness.set(peerId, { lastSeen: now, suspected: false, seqs: new Map() })
    else {
      l.lastSeen = now
      l.suspected = false
    }
  }

  #send(session: Session, message: HostToMember): void {
    if (session.closed) return
    session.sendChain = session.sendChain
      .then(() => (session.closed ? undefined : session.framed.write(message)))
      .catch((err: Error) => {
        logger('send to %s failed: %s', session.peerId, err.message)
        this.#closeSession(session)
      })
  }

  #closeSession(session: Session): void {
    if (session.closed && this.#sessions.get(session.peerId) !== session) return
    session.closed = true
    if (this.#sessions.get(session.peerId) === session) this.#sessions.delete(session.peerId)
    void session.framed.close()
  }

  async #refuseStream(framed: Framed, peerId: string, reason: string): Promise<void> {
    this.emit('refused', { peerId, reason })
    await framed.write({ type: 'refused', reason }).catch(() => {})
    await framed.close()
  }
}

function removalReason(c: CommittedEntry): string {
  const cmd = c.entry.command
  if (cmd.type === 'remove-member') return `removed from the party${cmd.reason ? `: ${cmd.reason}` : ''}`
  if (cmd.type === 'leave') return 'you left the party'
  if (cmd.type === 'end') return 'the party has ended'
  return 'no longer a member'
}
