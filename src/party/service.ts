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
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Connection, PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { handleClockProtocol } from '../clock/protocol.ts'
import type { PartyAdvert, PublicParty } from '../directory/index.ts'
import type { Library } from '../library/types.ts'
import type { TuttiLibp2p } from '../net/libp2p.ts'
import type { QueueEntry as PlayerQueueEntry, Timeline as PlayerTimeline } from '../playback/timeline.ts'
import { createRaftPartyLog, type RaftPartyLog } from '../replication/raft-party-log.ts'
import { findResumable, forgetResume, saveResume } from '../replication/resume.ts'
import type { Clock } from '../shared/clock.ts'
import { isDiskFull } from '../shared/errors.ts'
import { TypedEmitter } from '../shared/events.ts'
import { log } from '../shared/logger.ts'
import {
  AlreadyInPartyError,
  CommandRefusedError,
  HostUnreachableError,
  JoinRefusedError,
  NotInPartyError,
  PartyReconnectingError,
} from './errors.ts'
import { PartyHost } from './host.ts'
import {
  decodeInvite,
  encodeInvite,
  type InviteLink,
  inviteQrTerminal,
  MAX_INVITE_VOTER_ADDRS,
  MAX_INVITE_VOTERS,
  qrSvg,
} from './invite.ts'
import { GapError, PartyReplica } from './log.ts'
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
  memberOf,
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

/**
 * Whether the party an invite names is public. Every member's invite carries
 * the party's secret, and a public party's secret is `PUBLIC_PARTY_SECRET`
 * (a private one is random), so whoever leads after a failover knows to keep
 * announcing it.
 */
export function isPublicInvite(invite: Pick<Invite, 'secret'>): boolean {
  return invite.secret === PUBLIC_PARTY_SECRET
}

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
  /** Raft election timeout in 50 ms ticks (random in (n, 2n]). Default 10: a host cut off the network is replaced in 0.55–1 s. */
  electionTicks?: number
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
  /** Replication role: voters elect the host; learners only follow. Undefined until the leader placed it. */
  replica?: 'voter' | 'learner'
  /** As this node's log sees it ('self' for this node). */
  health?: 'self' | 'healthy' | 'unreachable' | 'unknown'
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
  /** Raft term (rises with every election). */
  term: number
  /** Peer id of the current Raft leader (= the host once its set-host commits); undefined during an election. */
  leader?: string
  /** 'reconnecting': no leader reachable — commands fail fast until one is elected. 'joining': not admitted yet. */
  connection: 'connected' | 'reconnecting' | 'joining'
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
  /** A new Raft leader (the party's host after failover or hand-off). */
  'party:host-changed': { partyId: string; leader: string; term: number }
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
  /** Is `peerId` an admitted member of the party this node is in (per its replica of the log)? */
  isMember(peerId: string): boolean
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

interface Session {
  invite: InviteLink
  /** The link this node was invited with (or created); `currentLink` names today's voters. */
  link: string
  /** Where the other members listen, as last looked up (for the invite link's voters). */
  peerAddrs: Map<string, string[]>
  public: boolean
  /** The replicated log; undefined until a joiner has been admitted and synced. */
  log: RaftPartyLog | undefined
  /** Fed from `log.onCommitted` on every node. */
  replica: PartyReplica | undefined
  /** Present while this node is the Raft leader: it admits members and orders their commands. */
  host: PartyHost | undefined
  /** Present while another node leads: hello, signed submits and party-clock samples to the leader. */
  member: PartyMember | undefined
  /** The leader `member` talks to. */
  memberLeader: string | undefined
  memberUnsubscribe: Array<() => void>
  /** While leading: party time = local clock + this (frozen at takeover, so party time stays continuous). */
  hostOffset: number | undefined
  /** Last party-clock offset in use before a re-point: used until the new leader's clock samples are good. */
  frozenOffset: number | undefined
  awaitingApproval: boolean
  /** leave() is running: it closes the session itself. */
  leaving: boolean
  unsubscribe: Array<() => void>
}

/** Entries in flight when a leader fails: the member retries them (same request id) this long. */
const COMMAND_RETRY_MS = 8_000

/** How long a member that leaves keeps trying to have its leave committed before it goes anyway. */
const LEAVE_PATIENCE_MS = 10_000
/** One attempt to hand the party's leadership to another member (./raft-party-log.ts `handOff`). */
const HAND_OFF_MS = 3_000

async function handOff(partyLog: RaftPartyLog): Promise<void> {
  await partyLog
    .handOff({ signal: AbortSignal.timeout(HAND_OFF_MS) })
    .catch((err: Error) => logger('hand-off failed: %s', err.message))
}

export function createPartyService(init: PartyServiceInit, components: PartyServiceComponents): PartyService {
  const { libp2p, clock } = components
  components = { ...components } // attachPlayer replaces the player on our own copy
  const events = new TypedEmitter<PartyServiceEvents>()
  const self = libp2p.peerId.toString()
  const removesSelf = removesSelfFactory(self)
  const prefetched = new Set<string>()
  const speakerTokens = new SpeakerTokens()
  let session: Session | undefined
  let started = false
  let playerTimer: ReturnType<typeof setTimeout> | undefined
  let announceTimer: ReturnType<typeof setInterval> | undefined
  let lastPlayerState: PartyState | undefined
  /** The member list last written to the resume record. */
  let rememberedMembers = ''

  const replica = (): PartyReplica | undefined => session?.replica ?? session?.member?.replica

  /** The member's clock estimate, once it is trustworthy or when there is nothing better. */
  function memberClock(s: Session): PartyMember | undefined {
    const m = s.member
    if (m === undefined) return undefined
    return m.clockReady() || s.frozenOffset === undefined ? m : undefined
  }

  function partyTimeOf(localMs: number): number {
    const s = session
    if (s === undefined) return localMs
    if (s.host !== undefined && s.hostOffset !== undefined) return localMs + s.hostOffset
    const m = memberClock(s)
    if (m !== undefined) return m.partyTimeAt(localMs)
    return localMs + (s.frozenOffset ?? 0)
  }

  function localTimeOf(partyMs: number): number {
    const s = session
    if (s === undefined) return partyMs
    if (s.host !== undefined && s.hostOffset !== undefined) return partyMs - s.hostOffset
    const m = memberClock(s)
    if (m !== undefined) return m.localTimeOf(partyMs)
    return partyMs - (s.frozenOffset ?? 0)
  }

  const partyTime = (): number => partyTimeOf(clock.now())
  /** The clock a leading node stamps and serves: party time. */
  const partyClock: Clock = { now: () => partyTime() }
  let stopClockServer: (() => Promise<void>) | undefined

  function clockReady(): boolean {
    const s = session
    if (s === undefined) return false
    if (s.host !== undefined || s.frozenOffset !== undefined) return true
    return s.member?.clockReady() ?? false
  }

  function stats(): MemberStat[] {
    if (session === undefined) return []
    return session.host?.stats() ?? session.member?.stats ?? []
  }

  function connection(s: Session): PartyStatus['connection'] {
    if (s.log === undefined) return 'joining'
    return s.log.leader() === undefined ? 'reconnecting' : 'connected'
  }

  function status(): PartyStatus | undefined {
    const r = replica()
    const s = session
    if (s === undefined) return undefined
    const now = partyTime()
    const role = s.host !== undefined ? 'host' : 'member'
    const term = s.log?.term() ?? 0
    const leader = s.log?.leader()
    if (r === undefined) {
      return {
        role,
        partyId: s.invite.partyId,
        name: '',
        hostPeerId: s.invite.hostPeerId,
        invite: currentLink(s),
        partyTime: now,
        index: 0,
        term,
        leader,
        connection: connection(s),
        joinPolicy: 'approve',
        permissions: { mode: 'host-only', djs: [] },
        can: { controlMusic: false, manageParty: false },
        nowPlaying: { entry: null, index: -1, position: 0, playing: false, finished: false },
        timeline: { entryId: null, anchorPartyTime: 0, anchorPosition: 0, paused: true },
        queue: [],
        members: [],
        pending: [],
        ended: false,
        awaitingApproval: s.awaitingApproval,
        readiness: {},
      }
    }
    const state = r.stateAt(now)
    const latest = r.state
    const byPeer = new Map(stats().map((st) => [st.peerId, st]))
    const replication = new Map((s.log?.members() ?? []).map((m) => [m.peerId, m]))
    return {
      role,
      partyId: latest.id,
      name: latest.name,
      hostPeerId: latest.hostPeerId,
      invite: currentLink(s),
      partyTime: now,
      index: r.index,
      term,
      leader,
      connection: connection(s),
      joinPolicy: latest.joinPolicy,
      permissions: latest.permissions,
      can: { controlMusic: canControlMusic(latest, self), manageParty: latest.hostPeerId === self },
      nowPlaying: currentEntryAt(state, now),
      // Committed queue and timeline (a change may be stamped to take effect a moment later); nowPlaying is what is in force now.
      timeline: latest.timeline,
      queue: latest.queue,
      members: latest.members.map((m) => {
        const st = byPeer.get(m.peerId)
        const rep = replication.get(m.peerId)
        return {
          peerId: m.peerId,
          name: m.name,
          role: m.role,
          self: m.peerId === self,
          rttMs: st?.rttMs,
          syncErrorMs: m.peerId === self ? syncErrorMs(s) : st?.syncErrorMs,
          suspected: st?.suspected ?? false,
          replica: rep?.role,
          health: rep?.health,
        }
      }),
      pending: latest.pending,
      ended: latest.ended,
      syncErrorMs: syncErrorMs(s),
      awaitingApproval: s.awaitingApproval,
      readiness: readinessFor(state, now),
    }
  }

  function syncErrorMs(s: Session): number | undefined {
    if (s.host !== undefined) return 0
    return s.member?.syncErrorMs()
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
    // Members came or went: a restart must know where the current ones listen.
    const membersKey = r.state.members.map((m) => m.peerId).join(',')
    if (session !== undefined && membersKey !== rememberedMembers) {
      rememberedMembers = membersKey
      void remember(session)
    }
  }

  function prefetch(state: PartyState): void {
    if (components.swarm === undefined) return
    const providers = state.members.map((m) => m.peerId).filter((p) => p !== self)
    const now = partyTime()
    // The song playing now is the player's to fetch: it reads the file's head (and the part at the
    // position) first. Started here, the download's first requests would go out ahead of those reads,
    // and behind a slow uplink each one holds the music up by a piece's transfer.
    const playingNow = components.player === undefined ? undefined : currentEntryAt(state, now)
    for (const entry of upcomingEntries(state, now, init.prefetchEntries ?? 3)) {
      if (playingNow?.entry === entry && !playingNow.finished) continue
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
    if (!clockReady()) {
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
    const s = session
    if (s?.host === undefined || !s.public || components.directory === undefined || s.replica === undefined)
      return
    const state = s.replica.state
    try {
      const now = currentEntryAt(s.replica.stateAt(partyTime()), partyTime())
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

  function withdraw(partyId: string): void {
    try {
      void Promise.resolve(components.directory?.withdraw(partyId)).catch(() => {})
    } catch {}
  }

  function stopMember(s: Session): void {
    for (const u of s.memberUnsubscribe) u()
    s.memberUnsubscribe = []
    s.member?.stop()
    s.member = undefined
    s.memberLeader = undefined
  }

  /** Connects the member side to `leader` (join, or after a failover): hello, signed submits, clock samples. */
  function connectMember(s: Session, leader: string): PartyMember {
    // Keep the party time we have until the new leader's clock samples are good.
    if (s.member !== undefined || s.hostOffset !== undefined) s.frozenOffset = partyTime() - clock.now()
    stopMember(s)
    const member = new PartyMember(
      {
        invite: {
          ...s.invite,
          hostPeerId: leader,
          // Joining: where the invite says it listens; later the peer store knows (stale invite addresses would only slow the dial).
          hostAddrs:
            s.log === undefined || leader === s.invite.hostPeerId ? invitedAddrsOf(s.invite, leader) : [],
        },
        name: init.displayName,
        heartbeatMs: init.heartbeatMs,
      },
      { libp2p, clock, privateKey: components.privateKey },
    )
    s.member = member
    s.memberLeader = leader
    s.memberUnsubscribe.push(
      member.on('snapshot', () => {
        s.awaitingApproval = false
        onChange()
      }),
      member.on('entry', () => {
        if (s.log === undefined) onChange()
      }),
      member.on('pending', () => {
        s.awaitingApproval = true
        events.emit('party:pending', { partyId: s.invite.partyId })
        publish()
      }),
      member.on('stats', () => publish()),
      member.on('closed', ({ reason }) => {
        // Before the log is synced the host's word is final; after, the log says whether we are still in.
        if (session === s && s.log === undefined) void closeSession(reason)
        else logger('connection to leader %s closed: %s', leader, reason)
      }),
    )
    return member
  }

  /** This node won an election: keep party time where it was, admit members, claim the host role. */
  function becomeHost(s: Session): void {
    if (s.host !== undefined || s.log === undefined) return
    s.hostOffset = partyTime() - clock.now()
    stopMember(s)
    s.frozenOffset = s.hostOffset
    const host = new PartyHost(
      {
        partyId: s.invite.partyId,
        secret: s.invite.secret,
        heartbeatMs: init.heartbeatMs,
        suspectAfterMs: init.suspectAfterMs,
        removeAfterMs: init.removeAfterMs,
        lastEffectivePartyTime: lastEffective(s.log),
      },
      { clock: partyClock, log: s.log, selfPeerId: self },
    )
    s.host = host
    s.unsubscribe.push(host.on('member:stats', () => publish()))
    host.start()
    if (s.log.state.hostPeerId !== self) {
      host
        .submit({ type: 'set-host', peerId: self }, self)
        .catch((err: Error) => logger('set-host not committed: %s', err.message))
    }
    if (s.public && announceTimer === undefined) {
      announce()
      announceTimer = setInterval(announce, init.announceIntervalMs ?? 10_000)
    }
  }

  function stepDown(s: Session): void {
    const host = s.host
    if (host === undefined) return
    s.frozenOffset = s.hostOffset
    s.hostOffset = undefined
    s.host = undefined
    void host.stop()
    if (announceTimer !== undefined) clearInterval(announceTimer)
    announceTimer = undefined
    // The new host announces the party now; take our advert (keyed by host) off the directory.
    if (s.public) withdraw(s.invite.partyId)
  }

  function onLeaderChanged(s: Session, leader: string | undefined, term: number): void {
    if (session !== s) return
    logger('leader is now %s (term %d)', leader ?? 'unknown', term)
    if (leader === self) becomeHost(s)
    else {
      stepDown(s)
      // Leaderless: whoever leads next gets a fresh member connection, even the same node (it may have
      // restarted from its disk, and our old stream to it is dead).
      if (leader === undefined) s.memberLeader = undefined
      else if (leader !== s.memberLeader) {
        const member = connectMember(s, leader)
        void member
          .join({ signal: AbortSignal.timeout(10_000) })
          .catch((err: Error) => logger('connecting to leader %s failed: %s', leader, err.message))
      }
    }
    if (leader !== undefined) events.emit('party:host-changed', { partyId: s.invite.partyId, leader, term })
    schedulePlayer()
    publish()
    void remember(s)
  }

  /** Where `peerId` listens, as far as we know: ourselves, the members' addresses looked up, the invite. */
  function addrsOf(s: Session, peerId: string): string[] {
    if (peerId === self) return hostAddrs()
    const looked = s.peerAddrs.get(peerId)
    return looked !== undefined && looked.length > 0 ? looked : invitedAddrsOf(s.invite, peerId)
  }

  /**
   * The invite link to hand out now: the current leader as host plus up to
   * MAX_INVITE_VOTERS other voters, so a newcomer can still join after the
   * host it names is gone (it tries each; the leader is always a voter).
   */
  function currentLink(s: Session): string {
    const partyLog = s.log
    const leader = partyLog?.leader()
    if (partyLog === undefined || leader === undefined) return s.link
    const direct = (addrs: string[]) => addrs.filter((a) => !a.includes('/p2p-circuit'))
    const voters = partyLog
      .members()
      .filter((m) => m.role === 'voter' && m.peerId !== leader)
      .map((m) => ({
        peerId: m.peerId,
        // Two addresses each keep the link (and its QR code) small.
        addrs: direct(addrsOf(s, m.peerId)).slice(0, Math.min(2, MAX_INVITE_VOTER_ADDRS)),
      }))
      .filter((v) => v.addrs.length > 0)
      .slice(0, MAX_INVITE_VOTERS)
    if (leader === s.invite.hostPeerId && voters.length === 0) return s.link
    try {
      return encodeInvite({
        partyId: s.invite.partyId,
        hostPeerId: leader,
        hostAddrs: direct(addrsOf(s, leader)).slice(0, 8),
        secret: s.invite.secret,
        voters,
      })
    } catch (err) {
      logger('could not build an invite naming the voters: %s', (err as Error).message)
      return s.link
    }
  }

  /** Keep what a restart needs to rejoin (the invite, where the members listen); best effort. */
  async function remember(s: Session): Promise<void> {
    try {
      const peers = []
      for (const m of s.log?.state.members ?? []) {
        if (m.peerId === self) continue
        const known = await libp2p.peerStore.get(peerIdFromString(m.peerId)).catch(() => undefined)
        const addrs = (known?.addresses ?? []).map((a) => a.multiaddr.toString()).slice(0, 8)
        if (addrs.length > 0) peers.push({ id: m.peerId, addrs })
        if (addrs.length > 0) s.peerAddrs.set(m.peerId, addrs)
      }
      if (session !== s) return
      await saveResume(init.dataDir, s.invite.partyId, { link: s.link, public: s.public, peers })
    } catch (err) {
      logger('could not save the party for a restart: %s', (err as Error).message)
    }
  }

  /** On start: rejoin the party this node was in when it stopped, from its own Raft state (no new invite). */
  async function resume(): Promise<void> {
    const found = await findResumable(init.dataDir).catch(() => undefined)
    if (found === undefined || session !== undefined || !started) return
    let invite: InviteLink
    try {
      invite = decodeInvite(found.record.link)
    } catch {
      await forgetResume(init.dataDir, found.partyId).catch(() => {})
      return
    }
    const s: Session = {
      invite,
      link: found.record.link,
      public: found.record.public || isPublicInvite(invite),
      log: undefined,
      replica: undefined,
      host: undefined,
      member: undefined,
      memberLeader: undefined,
      memberUnsubscribe: [],
      hostOffset: undefined,
      frozenOffset: undefined,
      awaitingApproval: false,
      leaving: false,
      unsubscribe: [],
      peerAddrs: new Map(),
    }
    session = s
    try {
      for (const p of found.record.peers) {
        const multiaddrs = p.addrs.flatMap((a) => {
          try {
            return [multiaddr(a)]
          } catch {
            return []
          }
        })
        await libp2p.peerStore.merge(peerIdFromString(p.id), { multiaddrs }).catch(() => {})
      }
      const partyLog = newLog(invite.partyId, { knownPeers: found.record.peers.map((p) => p.id) })
      s.unsubscribe.push(
        partyLog.on('leader:changed', ({ leader, term }) => {
          if (s.log !== undefined) onLeaderChanged(s, leader, term)
        }),
      )
      await partyLog.start()
      let stillMember = false
      try {
        stillMember = memberOf(partyLog.state, self) !== undefined
      } catch {} // never synced before the stop: nothing to resume from
      if (!stillMember || session !== s) {
        await partyLog.stop({ handOff: false })
        if (session === s) await closeSession('no longer in the party', { forget: true })
        return
      }
      s.log = partyLog
      attachLog(s, partyLog)
      // We listen on a new address now: dial the members so the leader's messages reach us.
      for (const p of found.record.peers)
        void libp2p.dial(peerIdFromString(p.id), { signal: AbortSignal.timeout(10_000) }).catch(() => {})
      const leader = partyLog.leader()
      if (leader !== undefined) onLeaderChanged(s, leader, partyLog.term())
      logger('rejoined party %s from disk', invite.partyId)
    } catch (err) {
      logger('could not rejoin party %s: %s', invite.partyId, (err as Error).message)
      if (session === s) await closeSession(`could not rejoin: ${(err as Error).message}`)
      return
    }
    onChange()
  }

  /** Every node: the replica follows the log's commits; the party ends (for us) when the log says so. */
  function attachLog(s: Session, partyLog: RaftPartyLog): void {
    const rebuild = () => {
      s.replica = new PartyReplica(partyLog.state, partyLog.commitIndex)
    }
    rebuild()
    s.unsubscribe.push(
      partyLog.onCommitted((c) => {
        if (session !== s) return
        try {
          s.replica?.apply(c.index, c.entry)
        } catch (err) {
          if (!(err instanceof GapError)) throw err
          rebuild()
        }
        onChange()
        if (c.state.ended) void closeSession('the party has ended')
        // Our own leave: leave() closes once the group has dropped us (a voter vanishing first could cost the quorum).
        else if (c.result.ok && removesSelf(c.entry.command, c.entry.from) && !s.leaving)
          void closeSession('removed from the party')
      }),
      partyLog.on('snapshot:installed', () => {
        if (session !== s) return
        rebuild()
        onChange()
      }),
      // The replica could not persist (a full disk) and stopped rather than acknowledge what it might
      // lose. Say so and leave the session; what it had persisted stays, so a restart rejoins from it.
      partyLog.on('fatal', ({ error }) => {
        if (session !== s) return
        logger('party log stopped: %s', error.message)
        void closeSession(partyLogStoppedReason(error))
      }),
    )
  }

  async function closeSession(reason: string, options: { forget?: boolean } = {}): Promise<void> {
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
    stopMember(s)
    const host = s.host
    s.host = undefined
    await host?.stop()
    await s.log?.stop().catch((err: Error) => logger('stopping the party log: %s', err.message))
    if (s.public) withdraw(s.invite.partyId)
    if (options.forget === true || reason === 'the party has ended') {
      await forgetResume(init.dataDir, s.invite.partyId).catch(() => {})
      await rm(join(init.dataDir, `party-${s.invite.partyId}`), { recursive: true, force: true }).catch(
        () => {},
      )
    }
    events.emit('party:closed', { partyId: s.invite.partyId, reason })
  }

  async function handleStream(stream: Parameters<PartyHost['handleStream']>[0], connection: Connection) {
    const host = session?.host
    if (host === undefined) {
      // Not leading: answer nothing and hang up; the member follows the log's leader.
      stream.abort(new Error('not hosting a party'))
      return
    }
    await host.handleStream(stream, connection)
  }

  function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms)
      function done() {
        clearTimeout(t)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  /**
   * Runs a command at the current leader. Fails fast while there is no leader;
   * when the leader changes under an in-flight command, retries at the new
   * one with the same request id (the state machine applies it once).
   */
  async function command(cmd: PartyCommand, options?: { signal?: AbortSignal }) {
    const s = session
    if (s === undefined) throw new NotInPartyError()
    const signal = options?.signal
    let answer: { index?: number; result: CommandResult } | undefined
    if (s.log === undefined) {
      if (s.member === undefined) throw new PartyReconnectingError()
      answer = await s.member.submit(cmd, options)
    } else {
      if (s.log.leader() === undefined) throw new PartyReconnectingError()
      const requestId = randomUUID()
      const giveUpAt = clock.now() + COMMAND_RETRY_MS
      for (;;) {
        signal?.throwIfAborted()
        if (session !== s) throw new NotInPartyError()
        const leader = s.log.leader()
        let retry = false
        if (leader === undefined) retry = true
        else if (leader === self && s.host !== undefined) {
          try {
            answer = await s.host.submit(cmd, self, { signal, requestId })
          } catch (err) {
            if (signal?.aborted) throw err
            logger('command %s not committed here: %s', cmd.type, (err as Error).message)
            retry = true
          }
        } else if (s.member !== undefined && s.memberLeader === leader) {
          answer = await s.member.submit(cmd, { signal, requestId })
          retry = !answer.result.ok && answer.result.code === 'unavailable' && !signal?.aborted
        } else retry = true
        if (!retry) break
        if (clock.now() >= giveUpAt) {
          if (s.log.leader() === undefined) throw new PartyReconnectingError()
          break
        }
        await sleep(100, signal)
      }
    }
    if (answer === undefined) throw new PartyReconnectingError()
    if (!answer.result.ok) {
      if (answer.result.code === 'unavailable' && s.log?.leader() === undefined)
        throw new PartyReconnectingError()
      throw new CommandRefusedError(answer.result.code, answer.result.reason)
    }
    return answer
  }

  /**
   * Says hello to the invite's host, then to each voter it names, until one
   * admits us: only the leader does (the others hang up), and the leader is
   * always a voter, so this still works once the invited host is gone. A
   * refusal (wrong secret, rejected) is final.
   */
  async function joinAny(s: Session, options?: { signal?: AbortSignal }): Promise<PartyMember> {
    const candidates = [
      s.invite.hostPeerId,
      ...(s.invite.voters ?? [])
        .map((v) => v.peerId)
        .filter((id) => id !== s.invite.hostPeerId && id !== self),
    ]
    const failures: string[] = []
    for (const peerId of candidates) {
      options?.signal?.throwIfAborted()
      if (session !== s) throw new NotInPartyError('left the party while joining')
      const member = connectMember(s, peerId)
      try {
        await member.join(options)
        return member
      } catch (err) {
        if (err instanceof JoinRefusedError || options?.signal?.aborted) throw err
        logger('joining through %s failed: %s', peerId, (err as Error).message)
        failures.push(`${peerId}: ${(err as Error).message}`)
        stopMember(s)
      }
    }
    if (failures.length === 1) throw new HostUnreachableError(failures[0])
    throw new HostUnreachableError(`no host named by the invite admitted us (${failures.join('; ')})`)
  }

  function newLog(
    partyId: string,
    extra: { initialState?: PartyState; knownPeers?: string[] },
  ): RaftPartyLog {
    return createRaftPartyLog(
      { partyId, selfId: self, dataDir: init.dataDir, electionTicks: init.electionTicks, ...extra },
      { libp2p, clock, rtts: measuredRtts },
    )
  }

  /** RTTs the host measures with its pings (only the leader has them, and only it picks voters). */
  function measuredRtts(): ReadonlyMap<string, number> {
    const out = new Map<string, number>()
    for (const st of session?.host?.stats() ?? [])
      if (st.rttMs !== undefined && st.peerId !== self) out.set(st.peerId, st.rttMs)
    return out
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
    isMember: (peerId) => replica()?.state.members.some((m) => m.peerId === peerId) === true,

    async start() {
      if (started) return
      started = true
      await libp2p.handle(PARTY_PROTOCOL, handleStream, {
        maxInboundStreams: 64,
        runOnLimitedConnection: true,
      })
      // Members sample party time here while this node hosts (after a failover: the old host's clock, continued).
      stopClockServer = await handleClockProtocol(libp2p, partyClock)
      void resume()
    },

    async stop() {
      if (!started) return
      started = false
      if (session?.log === undefined && session?.member !== undefined)
        await session.member.leave().catch(() => {})
      await closeSession('node stopped')
      await libp2p.unhandle(PARTY_PROTOCOL).catch(() => {})
      await stopClockServer?.()
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
      const partyLog = newLog(partyId, { initialState })
      const link = encodeInvite(invite)
      const s: Session = {
        invite,
        link,
        public: options.public === true,
        log: partyLog,
        replica: undefined,
        host: undefined,
        member: undefined,
        memberLeader: undefined,
        memberUnsubscribe: [],
        hostOffset: 0,
        frozenOffset: undefined,
        awaitingApproval: false,
        leaving: false,
        unsubscribe: [],
        peerAddrs: new Map(),
      }
      session = s
      s.unsubscribe.push(
        partyLog.on('leader:changed', ({ leader, term }) => onLeaderChanged(s, leader, term)),
      )
      try {
        await partyLog.start({ signal: options.signal })
        attachLog(s, partyLog)
        // A lone founder elects itself at once (no election timeout).
        for (let i = 0; i < 100 && partyLog.leader() !== self; i++) await sleep(20, options.signal)
        if (partyLog.leader() === self) becomeHost(s)
      } catch (err) {
        if (session === s) await closeSession((err as Error).message, { forget: true })
        throw err
      }
      onChange()
      void remember(s)
      return { status: status() as PartyStatus, invite: link, inviteQr: await inviteQrTerminal(link) }
    },

    async join(link, options) {
      if (session !== undefined) throw new AlreadyInPartyError()
      const invite = decodeInvite(link)
      const s: Session = {
        invite,
        link,
        public: isPublicInvite(invite),
        log: undefined,
        replica: undefined,
        host: undefined,
        member: undefined,
        memberLeader: undefined,
        memberUnsubscribe: [],
        hostOffset: undefined,
        frozenOffset: undefined,
        awaitingApproval: false,
        leaving: false,
        unsubscribe: [],
        peerAddrs: new Map(),
      }
      session = s
      try {
        const member = await joinAny(s, options)
        // Admitted: replicate the log from now on (the leader adds us as a learner and sends a snapshot).
        const welcomed = member.replica?.state
        const partyLog = newLog(invite.partyId, {
          knownPeers: [
            invite.hostPeerId,
            ...(invite.voters?.map((v) => v.peerId) ?? []),
            ...(welcomed?.members.map((m) => m.peerId) ?? []),
          ],
        })
        s.unsubscribe.push(
          partyLog.on('leader:changed', ({ leader, term }) => {
            if (s.log !== undefined) onLeaderChanged(s, leader, term)
          }),
        )
        await partyLog.start(options)
        try {
          await partyLog.synced(options)
        } catch (err) {
          await partyLog.stop({ handOff: false })
          throw err
        }
        // The leader's snapshot may predate our admission: wait until the log has us as a member.
        for (let i = 0; i < 250 && memberOf(partyLog.state, self) === undefined; i++)
          await sleep(20, options?.signal)
        if (session !== s) throw new NotInPartyError('left the party while joining')
        s.log = partyLog
        attachLog(s, partyLog)
        const leader = partyLog.leader()
        if (leader !== undefined && leader !== s.memberLeader) onLeaderChanged(s, leader, partyLog.term())
      } catch (err) {
        if (session === s) await closeSession((err as Error).message, { forget: true })
        throw err
      }
      onChange()
      void remember(s)
      return status() as PartyStatus
    },

    async leave() {
      const s = session
      if (s === undefined) throw new NotInPartyError()
      if (s.log === undefined) {
        await s.member?.leave()
        await closeSession('left the party', { forget: true })
        return
      }
      s.leaving = true
      if (s.host !== undefined) {
        const others = s.log.state.members.filter((m) => m.peerId !== self)
        if (others.length === 0) {
          await command({ type: 'end' }).catch(() => {})
          await closeSession('left the party', { forget: true })
          return
        }
        // Graceful: hand leadership to the best voter first (no election pause), then leave through it.
        await handOff(s.log)
      }
      // The new leader's set-host may not be committed yet ("the host cannot leave"): retry. Our own log
      // tells when the leave committed (the leader hangs up on a departed member before it can answer).
      // Going before it commits can leave the others without a quorum: in a party of two, the hand-off
      // made the other member a voter, and one voter of two never wins an election.
      const partyLog = s.log
      const left = () => memberOf(partyLog.state, self) === undefined
      const giveUpAt = clock.now() + LEAVE_PATIENCE_MS
      let finished = false
      void (async () => {
        while (!left()) {
          try {
            await command({ type: 'leave' })
            return
          } catch (err) {
            if (left()) return
            if (
              clock.now() >= giveUpAt ||
              !(err instanceof CommandRefusedError) ||
              err.refusal !== 'invalid'
            ) {
              logger('leave not committed: %s', (err as Error).message)
              return
            }
            // Still the leader: the hand-off did not finish in time (a busy machine). Try it again.
            if (partyLog.leader() === self) await handOff(partyLog)
            else await sleep(100)
          }
        }
      })().finally(() => {
        finished = true
      })
      while (!left() && !finished) await sleep(20)
      // Stay until the group has dropped us: a voter that vanishes first could leave the rest without a quorum.
      for (let i = 0; i < 150 && left() && partyLog.members().some((m) => m.peerId === self); i++) {
        if (partyLog.leader() === undefined || partyLog.leader() === self) break
        await sleep(20)
      }
      await closeSession('left the party', { forget: true })
    },

    parties() {
      const directory = components.directory
      if (directory === undefined) return []
      // After a failover the old host's advert lingers until its TTL: list each party once, by its latest advert.
      const latest = new Map<string, PublicParty>()
      for (const p of directory.listParties()) {
        const known = latest.get(p.partyId)
        if (known === undefined || p.lastSeen > known.lastSeen) latest.set(p.partyId, p)
      }
      return [...latest.values()].map((p) => ({
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

/**
 * Latest effective party time already in the log, for a node taking over
 * (the old host may have stamped ahead): the recent committed entries, the
 * committed timeline's anchor (all that is left after a snapshot), and the
 * uncommitted tail — the old host's proposals this node is about to commit,
 * which a new stamp must not precede.
 */
function lastEffective(partyLog: RaftPartyLog): number {
  const recent = partyLog.entriesAfter(Math.max(0, partyLog.commitIndex - 64)) ?? []
  let latest = partyLog.state.timeline.anchorPartyTime
  for (const c of recent) latest = Math.max(latest, c.entry.effectivePartyTime)
  for (const e of partyLog.unappliedEntries()) latest = Math.max(latest, e.effectivePartyTime)
  return latest
}

/** The addresses an invite gives for `peerId` (its host or one of its voters). */
function invitedAddrsOf(invite: InviteLink, peerId: string): string[] {
  if (peerId === invite.hostPeerId) return invite.hostAddrs
  return invite.voters?.find((v) => v.peerId === peerId)?.addrs ?? []
}

function removesSelfFactory(self: string) {
  return (command: PartyCommand, from: string): boolean =>
    (command.type === 'leave' && from === self) ||
    ((command.type === 'remove-member' || command.type === 'reject') && command.peerId === self)
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

/** What a member is told when its party log stopped on a storage error. */
function partyLogStoppedReason(error: Error): string {
  if (isDiskFull(error))
    return 'no space left on the disk for the party log: free some space, then restart the node to rejoin (what was saved is kept)'
  return `the party log could not be saved (${error.message}): restart the node to rejoin`
}
