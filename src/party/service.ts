/**
 * The party service: one party at a time per node, as host or member.
 * create() makes this node the host (leader-ordered log, `/tutti/party/1.0.0`
 * handler, invite link + QR, optional directory announcement); join() dials a
 * host from an invite. Either way it keeps a replica of the party, answers
 * `status()`, runs commands, prefetches upcoming songs through the swarm with
 * the party members as providers, and drives the node's player from the
 * committed timeline at each change's effective party time.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type { Connection, PrivateKey } from '@libp2p/interface'
import type { PartyAdvert, PublicParty } from '../directory/index.ts'
import type { Library } from '../library/types.ts'
import type { TuttiLibp2p } from '../net/libp2p.ts'
import type { QueueEntry as PlayerQueueEntry, Timeline as PlayerTimeline } from '../playback/timeline.ts'
import type { Clock } from '../shared/clock.ts'
import { TypedEmitter } from '../shared/events.ts'
import { log } from '../shared/logger.ts'
import { AlreadyInPartyError, CommandRefusedError, NotInPartyError } from './errors.ts'
import { PartyHost } from './host.ts'
import { decodeInvite, encodeInvite, inviteQrTerminal, qrSvg } from './invite.ts'
import { createLeaderLog, type PartyLog, PartyReplica } from './log.ts'
import { PartyMember } from './member.ts'
import { toPlayerTimeline } from './player-bridge.ts'
import { readinessOf, type SongReadiness, type TransferProgress } from './readiness.ts'
import { type Invite, type MemberStat, PARTY_PROTOCOL } from './schema.ts'
import { SpeakerTokens } from './speaker-token.ts'
import {
  type CommandResult,
  canControlMusic,
  createPartyState,
  currentEntryAt,
  type JoinPolicy,
  type PartyCommand,
  type PartyState,
  type PermissionMode,
  type PlaybackPosition,
  upcomingEntries,
} from './state.ts'

const logger = log('party')

/** What the party needs of the swarm: start fetching a song from the given providers. */
export interface PartySwarm {
  startDownload(cid: string, options?: { providers?: string[] }): unknown
  /** Progress of a download (src/swarm's `DownloadInfo` fits). */
  get?(cid: string): TransferProgress | undefined
}

/** What the party needs of the directory (src/directory's `Directory` fits). */
export interface PartyDirectory {
  announce(party: PartyAdvert): unknown
  withdraw(partyId: string): unknown
  listParties(): PublicParty[]
}

/**
 * Public parties admit anyone with this secret: the directory carries no
 * secrets, so an invite for a public party is built from its advert.
 */
export const PUBLIC_PARTY_SECRET = 'public'

export interface FoundParty extends PublicParty {
  /** The host is connected over a LAN (or loopback) address. */
  nearby: boolean
  /** Invite link to join it. */
  invite: string
}

/** The node's player (src/playback/headless-player.ts fits). */
export interface PartyPlayer {
  setTimeline(timeline: PlayerTimeline | undefined, queue: readonly PlayerQueueEntry[]): void
}

export interface PartyServiceInit {
  dataDir: string
  displayName: string
  heartbeatMs?: number
  suspectAfterMs?: number
  removeAfterMs?: number
  /** Upcoming songs prefetched. Default 3. */
  prefetchEntries?: number
  /** Directory re-announcement period for public parties. Default 30 s. */
  announceIntervalMs?: number
}

export interface PartyServiceComponents {
  libp2p: TuttiLibp2p
  clock: Clock
  privateKey: PrivateKey
  library?: Pick<Library, 'get'>
  swarm?: PartySwarm
  directory?: PartyDirectory
  player?: PartyPlayer
}

export interface CreatePartyOptions {
  name: string
  joinPolicy?: JoinPolicy
  permissions?: { mode: PermissionMode; djs?: string[] }
  /** Announce in the directory so anyone nearby / on the network can find and join it. */
  public?: boolean
  signal?: AbortSignal
}

export interface PartyMemberView {
  peerId: string
  name: string
  role: 'host' | 'dj' | 'member'
  self: boolean
  rttMs?: number
  syncErrorMs?: number
  suspected: boolean
}

export interface PartyStatus {
  role: 'host' | 'member'
  partyId: string
  name: string
  hostPeerId: string
  invite: string
  /** Party time (ms) this status was taken at. */
  partyTime: number
  /** Log index applied. */
  index: number
  joinPolicy: JoinPolicy
  permissions: { mode: PermissionMode; djs: string[] }
  /** What this node may do: the UI greys out the rest. */
  can: { controlMusic: boolean; manageParty: boolean }
  nowPlaying: PlaybackPosition
  timeline: PartyState['timeline']
  queue: PartyState['queue']
  members: PartyMemberView[]
  pending: PartyState['pending']
  ended: boolean
  /** This node's party-clock uncertainty (ms); 0 on the host, whose clock is the reference. */
  syncErrorMs?: number
  /** Waiting for the host to approve our join request. */
  awaitingApproval: boolean
  /** Whether this node can play each upcoming song (by cid): on disk, streamable in time, still arriving, or missing. */
  readiness: Record<string, SongReadiness>
}

export interface PartyServiceEvents extends Record<string, unknown> {
  'party:update': PartyStatus
  'party:closed': { partyId: string; reason: string }
  'party:pending': { partyId: string }
}

export interface PartyService {
  start(): Promise<void>
  stop(): Promise<void>
  create(options: CreatePartyOptions): Promise<{ status: PartyStatus; invite: string; inviteQr: string }>
  /** Joins from an invite link; resolves once welcomed (waits for approval when the party requires it). */
  join(invite: string, options?: { signal?: AbortSignal }): Promise<PartyStatus>
  leave(options?: { signal?: AbortSignal }): Promise<void>
  status(): PartyStatus | undefined
  /** Runs a command; resolves with the committed result, throws `CommandRefusedError` when refused. */
  command(
    command: PartyCommand,
    options?: { signal?: AbortSignal },
  ): Promise<{ index?: number; result: CommandResult }>
  /** Party time now (ms); the local clock when not in a party. */
  partyTime(): number
  /** Local clock time of a party time (for players). */
  localTimeOf(partyMs: number): number
  partyTimeOf(localMs: number): number
  /** Peer ids to fetch party songs from first: the other members. */
  songProviders(): string[]
  /** Sets (or replaces, or removes) the player driven by the timeline — the player needs the party clock, so it is often made after the service. */
  attachPlayer(player: PartyPlayer | undefined): void
  /** Public parties from the directory; `nearby` when the host is connected over a LAN address. */
  parties(): FoundParty[]
  qrSvg(text: string): Promise<string>
  /** A restricted token for the speaker page (see speaker-token.ts); requires a party. */
  issueSpeakerToken(): string
  isSpeakerToken(token: string | undefined): boolean
  on<K extends keyof PartyServiceEvents>(
    type: K,
    listener: (payload: PartyServiceEvents[K]) => void,
  ): () => void
}

interface HostSession {
  role: 'host'
  invite: Invite
  link: string
  log: PartyLog
  host: PartyHost
  replica: PartyReplica
  public: boolean
  unsubscribe: Array<() => void>
}

interface MemberSession {
  role: 'member'
  invite: Invite
  link: string
  member: PartyMember
  awaitingApproval: boolean
  unsubscribe: Array<() => void>
}

export function createPartyService(init: PartyServiceInit, components: PartyServiceComponents): PartyService {
  const { libp2p, clock } = components
  components = { ...components } // attachPlayer replaces the player on our own copy
  const events = new TypedEmitter<PartyServiceEvents>()
  const self = libp2p.peerId.toString()
  const prefetched = new Set<string>()
  const speakerTokens = new SpeakerTokens()
  let session: HostSession | MemberSession | undefined
  let started = false
  let playerTimer: ReturnType<typeof setTimeout> | undefined
  let announceTimer: ReturnType<typeof setInterval> | undefined
  let lastPlayerState: PartyState | undefined

  const replica = (): PartyReplica | undefined =>
    session === undefined ? undefined : session.role === 'host' ? session.replica : session.member.replica

  const partyTime = (): number => (session?.role === 'member' ? session.member.partyTime() : clock.now())
  const localTimeOf = (partyMs: number): number =>
    session?.role === 'member' ? session.member.localTimeOf(partyMs) : partyMs
  const partyTimeOf = (localMs: number): number =>
    session?.role === 'member' ? session.member.partyTimeAt(localMs) : localMs

  function stats(): MemberStat[] {
    if (session === undefined) return []
    return session.role === 'host' ? session.host.stats() : session.member.stats
  }

  function status(): PartyStatus | undefined {
    const r = replica()
    if (session === undefined) return undefined
    const now = partyTime()
    const awaitingApproval = session.role === 'member' && session.awaitingApproval
    if (r === undefined) {
      return {
        role: session.role,
        partyId: session.invite.partyId,
        name: '',
        hostPeerId: session.invite.hostPeerId,
        invite: session.link,
        partyTime: now,
        index: 0,
        joinPolicy: 'approve',
        permissions: { mode: 'host-only', djs: [] },
        can: { controlMusic: false, manageParty: false },
        nowPlaying: { entry: null, index: -1, position: 0, playing: false, finished: false },
        timeline: { entryId: null, anchorPartyTime: 0, anchorPosition: 0, paused: true },
        queue: [],
        members: [],
        pending: [],
        ended: false,
        awaitingApproval,
        readiness: {},
      }
    }
    const state = r.stateAt(now)
    const latest = r.state
    const byPeer = new Map(stats().map((s) => [s.peerId, s]))
    return {
      role: session.role,
      partyId: latest.id,
      name: latest.name,
      hostPeerId: latest.hostPeerId,
      invite: session.link,
      partyTime: now,
      index: r.index,
      joinPolicy: latest.joinPolicy,
      permissions: latest.permissions,
      can: { controlMusic: canControlMusic(latest, self), manageParty: latest.hostPeerId === self },
      nowPlaying: currentEntryAt(state, now),
      // Committed queue and timeline (a change may be stamped to take effect a moment later); nowPlaying is what is in force now.
      timeline: latest.timeline,
      queue: latest.queue,
      members: latest.members.map((m) => {
        const s = byPeer.get(m.peerId)
        return {
          peerId: m.peerId,
          name: m.name,
          role: m.role,
          self: m.peerId === self,
          rttMs: s?.rttMs,
          syncErrorMs:
            m.peerId === self && session?.role === 'member' ? session.member.syncErrorMs() : s?.syncErrorMs,
          suspected: s?.suspected ?? false,
        }
      }),
      pending: latest.pending,
      ended: latest.ended,
      syncErrorMs: session.role === 'host' ? 0 : session.member.syncErrorMs(),
      awaitingApproval,
      readiness: readinessFor(state, now),
    }
  }

  function readinessFor(state: PartyState, now: number): Record<string, SongReadiness> {
    const out: Record<string, SongReadiness> = {}
    const position = currentEntryAt(state, now)
    for (const entry of upcomingEntries(state, now, 10)) {
      const from = entry.entryId === position.entry?.entryId ? position.position : 0
      out[entry.cid] = readinessOf(
        components.library?.get(entry.cid) !== undefined,
        components.swarm?.get?.(entry.cid),
        entry.durationSec,
        from,
      )
    }
    return out
  }

  function publish(): void {
    const s = status()
    if (s !== undefined) events.emit('party:update', s)
  }

  /** After each change: prefetch what comes next, schedule the player, tell the UI. */
  function onChange(): void {
    const r = replica()
    if (r === undefined) return
    prefetch(r.state)
    schedulePlayer()
    publish()
  }

  function prefetch(state: PartyState): void {
    if (components.swarm === undefined) return
    const providers = state.members.map((m) => m.peerId).filter((p) => p !== self)
    for (const entry of upcomingEntries(state, partyTime(), init.prefetchEntries ?? 3)) {
      if (prefetched.has(entry.cid) || components.library?.get(entry.cid) !== undefined) continue
      prefetched.add(entry.cid)
      try {
        components.swarm.startDownload(entry.cid, { providers })
      } catch (err) {
        logger('prefetch of %s failed to start: %s', entry.cid, (err as Error).message)
        prefetched.delete(entry.cid)
      }
    }
  }

  /**
   * Hands the player each state at its effective party time. A start from
   * pause is handed over early (its anchor already says "starts at T"); other
   * changes exactly on time, so a pause is not heard before it is due.
   */
  function schedulePlayer(): void {
    const player = components.player
    const r = replica()
    if (player === undefined || r === undefined) return
    if (playerTimer !== undefined) clearTimeout(playerTimer)
    playerTimer = undefined
    if (session?.role === 'member' && !session.member.clockReady()) {
      // Party time is still a guess: a player started now would start at the wrong place and slew for seconds.
      playerTimer = setTimeout(schedulePlayer, 50)
      return
    }
    const now = partyTime()
    const inForce = r.stateAt(now)
    if (inForce !== lastPlayerState) {
      lastPlayerState = inForce
      const { timeline, queue } = toPlayerTimeline(inForce)
      player.setTimeline(timeline, queue)
    }
    const next = r.nextChangeAfter(now)
    if (next === undefined) return
    const upcoming = r.stateAt(next)
    const earlyStart = inForce.timeline.paused && !upcoming.timeline.paused
    const deliverAt = next - (earlyStart ? 150 : 0)
    if (earlyStart && deliverAt <= now) {
      lastPlayerState = upcoming
      const { timeline, queue } = toPlayerTimeline(upcoming)
      player.setTimeline(timeline, queue)
    }
    const waitMs = Math.max(0, localTimeOf(deliverAt <= now ? next : deliverAt) - clock.now())
    playerTimer = setTimeout(() => {
      playerTimer = undefined
      if (earlyStart && lastPlayerState !== upcoming) {
        lastPlayerState = upcoming
        const { timeline, queue } = toPlayerTimeline(upcoming)
        player.setTimeline(timeline, queue)
      }
      schedulePlayer()
      publish()
    }, waitMs)
  }

  function hostAddrs(): string[] {
    return libp2p
      .getMultiaddrs()
      .map((a) => a.toString())
      .filter((a) => !a.includes('/p2p-circuit'))
      .slice(0, 8)
  }

  function announce(): void {
    if (session?.role !== 'host' || !session.public || components.directory === undefined) return
    const state = session.log.state
    try {
      const now = currentEntryAt(session.replica.stateAt(clock.now()), clock.now())
      void Promise.resolve(
        components.directory.announce({
          partyId: state.id,
          name: state.name,
          members: state.members.length,
          joinPolicy: state.joinPolicy === 'approve' ? 'ask' : 'open',
          nowPlaying:
            now.entry === null || !now.playing
              ? undefined
              : { title: now.entry.title, artist: now.entry.artist, cid: now.entry.cid },
        }),
      ).catch((err: Error) => logger('directory announce failed: %s', err.message))
    } catch (err) {
      logger('directory announce failed: %s', (err as Error).message)
    }
  }

  async function closeSession(reason: string): Promise<void> {
    const s = session
    if (s === undefined) return
    session = undefined
    for (const u of s.unsubscribe) u()
    if (playerTimer !== undefined) clearTimeout(playerTimer)
    playerTimer = undefined
    if (announceTimer !== undefined) clearInterval(announceTimer)
    announceTimer = undefined
    lastPlayerState = undefined
    prefetched.clear()
    speakerTokens.revokeAll()
    components.player?.setTimeline(undefined, [])
    if (s.role === 'host') {
      await s.host.stop()
      if (s.public) {
        try {
          void Promise.resolve(components.directory?.withdraw(s.invite.partyId)).catch(() => {})
        } catch {}
      }
    } else {
      s.member.stop()
    }
    events.emit('party:closed', { partyId: s.invite.partyId, reason })
  }

  async function handleStream(stream: Parameters<PartyHost['handleStream']>[0], connection: Connection) {
    if (session?.role !== 'host') {
      // Not hosting: answer nothing and hang up; the dialer reports the host unreachable.
      stream.abort(new Error('not hosting a party'))
      return
    }
    await session.host.handleStream(stream, connection)
  }

  async function command(cmd: PartyCommand, options?: { signal?: AbortSignal }) {
    if (session === undefined) throw new NotInPartyError()
    const answer =
      session.role === 'host'
        ? await session.host.submit(cmd, self, options)
        : await session.member.submit(cmd, options)
    if (!answer.result.ok) throw new CommandRefusedError(answer.result.code, answer.result.reason)
    return answer
  }

  return {
    on: (type, listener) => events.on(type, listener),
    partyTime,
    localTimeOf,
    partyTimeOf,
    status,
    command,
    qrSvg,
    issueSpeakerToken() {
      if (session === undefined) throw new NotInPartyError()
      return speakerTokens.issue()
    },
    isSpeakerToken: (token) => speakerTokens.verify(token),
    attachPlayer(player) {
      components.player?.setTimeline(undefined, [])
      components.player = player
      lastPlayerState = undefined
      schedulePlayer()
    },
    songProviders() {
      const state = replica()?.state
      if (state === undefined) return session === undefined ? [] : [session.invite.hostPeerId]
      return state.members.map((m) => m.peerId).filter((p) => p !== self)
    },

    async start() {
      if (started) return
      started = true
      await libp2p.handle(PARTY_PROTOCOL, handleStream, {
        maxInboundStreams: 4,
        runOnLimitedConnection: true,
      })
    },

    async stop() {
      if (!started) return
      started = false
      if (session?.role === 'member') await session.member.leave().catch(() => {})
      await closeSession('node stopped')
      await libp2p.unhandle(PARTY_PROTOCOL).catch(() => {})
    },

    async create(options) {
      if (session !== undefined) throw new AlreadyInPartyError()
      options.signal?.throwIfAborted()
      const partyId = randomUUID()
      const invite: Invite = {
        partyId,
        hostPeerId: self,
        hostAddrs: hostAddrs(),
        secret: options.public === true ? PUBLIC_PARTY_SECRET : randomBytes(18).toString('base64url'),
      }
      const initialState = createPartyState({
        id: partyId,
        name: options.name,
        hostPeerId: self,
        hostName: init.displayName,
        joinPolicy: options.joinPolicy,
        permissions:
          options.permissions === undefined
            ? undefined
            : { mode: options.permissions.mode, djs: options.permissions.djs ?? [] },
      })
      const partyLog = createLeaderLog({ initialState })
      const host = new PartyHost(
        {
          partyId,
          secret: invite.secret,
          heartbeatMs: init.heartbeatMs,
          suspectAfterMs: init.suspectAfterMs,
          removeAfterMs: init.removeAfterMs,
        },
        { clock, log: partyLog, selfPeerId: self },
      )
      const hostReplica = new PartyReplica(initialState, 0)
      const link = encodeInvite(invite)
      const s: HostSession = {
        role: 'host',
        invite,
        link,
        log: partyLog,
        host,
        replica: hostReplica,
        public: options.public === true,
        unsubscribe: [],
      }
      s.unsubscribe.push(
        partyLog.onCommitted((c) => {
          hostReplica.apply(c.index, c.entry)
          onChange()
        }),
        host.on('member:stats', () => publish()),
      )
      session = s
      host.start()
      if (s.public) {
        announce()
        announceTimer = setInterval(announce, init.announceIntervalMs ?? 10_000)
      }
      onChange()
      return { status: status() as PartyStatus, invite: link, inviteQr: await inviteQrTerminal(link) }
    },

    async join(link, options) {
      if (session !== undefined) throw new AlreadyInPartyError()
      const invite = decodeInvite(link)
      const member = new PartyMember(
        { invite, name: init.displayName, heartbeatMs: init.heartbeatMs },
        { libp2p, clock, privateKey: components.privateKey },
      )
      const s: MemberSession = {
        role: 'member',
        invite,
        link,
        member,
        awaitingApproval: false,
        unsubscribe: [],
      }
      s.unsubscribe.push(
        member.on('entry', () => onChange()),
        member.on('snapshot', () => {
          s.awaitingApproval = false
          onChange()
        }),
        member.on('pending', () => {
          s.awaitingApproval = true
          events.emit('party:pending', { partyId: invite.partyId })
          publish()
        }),
        member.on('stats', () => publish()),
        member.on('closed', ({ reason }) => {
          if (session === s) void closeSession(reason)
        }),
      )
      session = s
      try {
        await member.join(options)
      } catch (err) {
        if (session === s) await closeSession((err as Error).message)
        throw err
      }
      return status() as PartyStatus
    },

    async leave() {
      if (session === undefined) throw new NotInPartyError()
      if (session.role === 'member') await session.member.leave()
      else await session.host.submit({ type: 'end' }, self).catch(() => {})
      await closeSession('left the party')
    },

    parties() {
      const directory = components.directory
      if (directory === undefined) return []
      return directory.listParties().map((p) => ({
        ...p,
        nearby: isLanConnected(libp2p, p.host.peerId),
        invite: encodeInvite({
          partyId: p.partyId,
          hostPeerId: p.host.peerId,
          hostAddrs: p.host.addrs.slice(0, 16),
          secret: PUBLIC_PARTY_SECRET,
        }),
      }))
    },
  }
}

/** True when we hold a direct connection to `peerId` over a private (LAN/loopback) address. */
function isLanConnected(libp2p: TuttiLibp2p, peerId: string): boolean {
  return libp2p
    .getConnections()
    .some((c) => c.remotePeer.toString() === peerId && isPrivateAddress(c.remoteAddr.toString()))
}

export function isPrivateAddress(ma: string): boolean {
  const v4 = /\/ip4\/(\d+)\.(\d+)\.\d+\.\d+/.exec(ma)
  if (v4 !== null) {
    const a = Number(v4[1])
    const b = Number(v4[2])
    return (
      a === 10 ||
      a === 127 ||
      (a === 192 && b === 168) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 169 && b === 254)
    )
  }
  const v6 = /\/ip6\/([0-9a-f:]+)/i.exec(ma)
  if (v6 !== null) {
    const addr = v6[1].toLowerCase()
    return addr === '::1' || addr.startsWith('fe80') || addr.startsWith('fc') || addr.startsWith('fd')
  }
  return false
}
