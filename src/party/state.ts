/**
 * The party state machine: pure and deterministic. A committed log entry
 * (command, sender, effective party time) goes in, the next state and an
 * ok/refused result come out. No clock reads, no I/O, no randomness — every
 * replica that applies the same log gets the same state, which is what lets
 * the host's leader-ordered log (and later Raft) replicate it.
 *
 * Time: party time in ms (the host's clock, as estimated by src/clock);
 * media positions and durations in seconds.
 *
 * The timeline is one anchor — "entry E was at position P at party time T,
 * playing or paused" — and songs follow each other gaplessly: the next entry
 * starts at exactly the end of the previous one (exact durations), so the
 * entry playing at any party time is derived, never stored
 * (`currentEntryAt`). Commands that change the queue or the playback first
 * re-anchor the timeline at their effective time, so an edit never rewrites
 * what already played.
 */

export type JoinPolicy = 'open' | 'approve'
export type PermissionMode = 'host-only' | 'everyone' | 'djs'
export type Role = 'host' | 'dj' | 'member'

export interface Member {
  peerId: string
  name: string
  role: Role
}

export interface JoinRequest {
  peerId: string
  name: string
  /** Party time the request was committed. */
  requestedAt: number
}

export interface QueueEntry {
  entryId: string
  cid: string
  title: string
  artist: string
  durationSec: number
  /** Peer id of the member who queued it. */
  addedBy: string
}

export interface Timeline {
  /** Anchor entry; null only while the queue has never had anything. */
  entryId: string | null
  /** Party time (ms) at which the anchor entry was at `anchorPosition`. */
  anchorPartyTime: number
  /** Seconds into the anchor entry at `anchorPartyTime`. */
  anchorPosition: number
  paused: boolean
}

export interface Permissions {
  mode: PermissionMode
  /** Peer ids allowed to control the music in `djs` mode (the host always is). */
  djs: string[]
}

export interface PartyState {
  id: string
  name: string
  hostPeerId: string
  joinPolicy: JoinPolicy
  permissions: Permissions
  members: Member[]
  pending: JoinRequest[]
  /** Played entries (before the current one), the current one, then what is up next. */
  queue: QueueEntry[]
  timeline: Timeline
  /** Next entry id sequence number: entry ids are deterministic (`e<seq>`). */
  nextEntrySeq: number
  /** True once the host ended the party: every further command is refused. */
  ended: boolean
  /** Request ids of the last applied commands and their verdicts: a retried command is not applied twice. */
  recentRequests?: Array<{ id: string; result: CommandResult }>
}

export interface SongRef {
  cid: string
  title: string
  artist: string
  durationSec: number
}

export type PartyCommand =
  | { type: 'join'; name: string }
  | { type: 'approve'; peerId: string }
  | { type: 'reject'; peerId: string }
  | { type: 'leave' }
  | { type: 'remove-member'; peerId: string; reason?: string }
  | { type: 'set-permissions'; mode: PermissionMode; djs?: string[] }
  | { type: 'set-join-policy'; policy: JoinPolicy }
  | { type: 'rename'; name: string }
  | { type: 'enqueue'; song: SongRef; next?: boolean }
  | { type: 'remove'; entryId: string }
  | { type: 'move'; entryId: string; toIndex: number }
  | { type: 'play'; entryId?: string; position?: number }
  | { type: 'pause' }
  | { type: 'seek'; position: number }
  | { type: 'skip' }
  | { type: 'previous' }
  | { type: 'end' }
  /**
   * The Raft leader claims the host role (failover). Valid only as the leader's
   * own proposal for itself (`peerId === from === proposer`); a member cannot
   * submit it (the host refuses it on the wire, the state machine refuses an
   * entry whose proposer is not `from`).
   */
  | { type: 'set-host'; peerId: string }

export type PartyCommandType = PartyCommand['type']

/** One committed log entry, as every replica applies it. */
export interface PartyLogEntry {
  command: PartyCommand
  /** Peer id of the member that submitted it (authenticated by the shell). */
  from: string
  /** Party time (ms) at which the command takes effect, stamped by the leader. */
  effectivePartyTime: number
  /** Submitter's id for this command: a retry with the same id (after a failover) is applied once. */
  requestId?: string
  /**
   * Peer id of the node that put the entry into the log (the host / Raft
   * leader at the time), stamped by the host shell itself, never taken from a
   * member. `set-host` is valid only when the proposer claims the role for itself.
   */
  proposer?: string
}

export type RefusalCode =
  | 'not-member'
  | 'forbidden'
  | 'invalid'
  | 'not-found'
  | 'conflict'
  | 'ended'
  /** Not from the state machine: the shell could not run the command (host unreachable, timeout). */
  | 'unavailable'

export type CommandResult = { ok: true; entryId?: string } | { ok: false; code: RefusalCode; reason: string }

export interface ApplyOutcome {
  state: PartyState
  result: CommandResult
}

export const LIMITS = {
  maxMembers: 256,
  maxPending: 64,
  /** Entries not yet played (current + upcoming). */
  maxUpcoming: 500,
  /** Played entries kept for `previous` and the history view. */
  maxHistory: 100,
  maxNameLength: 64,
  maxTextLength: 256,
  maxDjs: 32,
  /** Longest song accepted (s): 24 h. */
  maxDurationSec: 86_400,
} as const

/** Within this many seconds of the start, `previous` goes to the previous song instead of restarting. */
export const PREVIOUS_RESTART_THRESHOLD_SEC = 3

/** Commands that change what plays or when: the leader stamps them ahead so every member applies them on time. */
export const PLAYBACK_COMMANDS: ReadonlySet<PartyCommandType> = new Set([
  'play',
  'pause',
  'seek',
  'skip',
  'previous',
  'remove',
  'move',
  'enqueue',
])

const MUSIC_COMMANDS: ReadonlySet<PartyCommandType> = new Set([
  'enqueue',
  'remove',
  'move',
  'play',
  'pause',
  'seek',
  'skip',
  'previous',
])

const HOST_COMMANDS: ReadonlySet<PartyCommandType> = new Set([
  'approve',
  'reject',
  'remove-member',
  'set-permissions',
  'set-join-policy',
  'rename',
  'end',
])

export interface CreatePartyInit {
  id: string
  name: string
  hostPeerId: string
  hostName: string
  joinPolicy?: JoinPolicy
  permissions?: Permissions
}

export function createPartyState(init: CreatePartyInit): PartyState {
  return {
    id: init.id,
    name: clip(init.name, LIMITS.maxNameLength),
    hostPeerId: init.hostPeerId,
    joinPolicy: init.joinPolicy ?? 'open',
    permissions: init.permissions ?? { mode: 'everyone', djs: [] },
    members: [{ peerId: init.hostPeerId, name: clip(init.hostName, LIMITS.maxNameLength), role: 'host' }],
    pending: [],
    queue: [],
    timeline: { entryId: null, anchorPartyTime: 0, anchorPosition: 0, paused: true },
    nextEntrySeq: 1,
    ended: false,
  }
}

// ---------------------------------------------------------------------------
// Timeline derivation

export interface PlaybackPosition {
  /** Entry playing (or paused) at that party time; null when the queue is empty. */
  entry: QueueEntry | null
  /** Index of `entry` in `state.queue`, -1 when none. */
  index: number
  /** Seconds into `entry`. */
  position: number
  /** True when audio is running at that instant (not paused and not past the end of the queue). */
  playing: boolean
  /** True when the timeline ran past the last entry (or is parked at its end). */
  finished: boolean
}

/**
 * What plays at party time `partyTime` (ms). Gapless: from the anchor, each
 * entry lasts exactly `durationSec` and the next one starts right at its end.
 * Querying a time before the anchor extrapolates backwards within the anchor
 * entry only (positions are clamped at 0).
 */
export function currentEntryAt(
  state: Pick<PartyState, 'timeline' | 'queue'>,
  partyTime: number,
): PlaybackPosition {
  const { timeline, queue } = state
  let index = timeline.entryId === null ? -1 : queue.findIndex((e) => e.entryId === timeline.entryId)
  if (index < 0) return { entry: null, index: -1, position: 0, playing: false, finished: queue.length === 0 }
  let position = timeline.anchorPosition
  if (!timeline.paused) position += (partyTime - timeline.anchorPartyTime) / 1000
  if (position < 0) position = 0
  while (position >= queue[index].durationSec) {
    if (index === queue.length - 1) {
      return {
        entry: queue[index],
        index,
        position: queue[index].durationSec,
        playing: false,
        finished: true,
      }
    }
    position -= queue[index].durationSec
    index++
  }
  return { entry: queue[index], index, position, playing: !timeline.paused, finished: false }
}

export interface ScheduledEntry {
  entry: QueueEntry
  index: number
  /** Party time (ms) at which the entry's position 0 plays (may be in the past for the current entry). */
  startPartyTime: number
  /** Party time (ms) at which it ends and the next one starts. */
  endPartyTime: number
}

/**
 * The gapless schedule from the entry playing at `partyTime` onwards, while
 * playing: each entry's exact start and end in party time. Empty when paused
 * or finished (nothing is scheduled until someone presses play).
 */
export function scheduleFrom(state: PartyState, partyTime: number, maxEntries = 20): ScheduledEntry[] {
  const now = currentEntryAt(state, partyTime)
  if (!now.playing || now.entry === null) return []
  const out: ScheduledEntry[] = []
  let start = partyTime - now.position * 1000
  for (let i = now.index; i < state.queue.length && out.length < maxEntries; i++) {
    const entry = state.queue[i]
    const end = start + entry.durationSec * 1000
    out.push({ entry, index: i, startPartyTime: start, endPartyTime: end })
    start = end
  }
  return out
}

/** Upcoming entries (current first), whether playing or paused: what members should prefetch. */
export function upcomingEntries(state: PartyState, partyTime: number, maxEntries = 5): QueueEntry[] {
  const now = currentEntryAt(state, partyTime)
  if (now.entry === null) return state.queue.slice(0, maxEntries)
  const from = now.finished ? now.index + 1 : now.index
  return state.queue.slice(from, from + maxEntries)
}

// ---------------------------------------------------------------------------
// Permissions

export function memberOf(state: PartyState, peerId: string): Member | undefined {
  return state.members.find((m) => m.peerId === peerId)
}

/** Whether `peerId` may control the music (queue + playback) under the current permission mode. */
export function canControlMusic(state: PartyState, peerId: string): boolean {
  const member = memberOf(state, peerId)
  if (member === undefined) return false
  if (member.role === 'host') return true
  switch (state.permissions.mode) {
    case 'everyone':
      return true
    case 'djs':
      return state.permissions.djs.includes(peerId)
    case 'host-only':
      return false
  }
}

/** Why `from` may not run `command`, or undefined when allowed. Exported so UIs can grey out controls. */
export function permissionRefusal(
  state: PartyState,
  from: string,
  type: PartyCommandType,
): { code: RefusalCode; reason: string } | undefined {
  if (state.ended) return { code: 'ended', reason: 'the party has ended' }
  if (type === 'join') return undefined
  const member = memberOf(state, from)
  if (member === undefined)
    return { code: 'not-member', reason: `${short(from)} is not a member of this party` }
  if (HOST_COMMANDS.has(type) && member.role !== 'host') {
    return { code: 'forbidden', reason: `only the host can ${type.replace('-', ' ')}` }
  }
  if (MUSIC_COMMANDS.has(type) && !canControlMusic(state, from)) {
    const why =
      state.permissions.mode === 'host-only'
        ? 'only the host controls the music in this party'
        : 'only the host and the DJs control the music in this party'
    return { code: 'forbidden', reason: `${type} refused: ${why}` }
  }
  return undefined
}

// ---------------------------------------------------------------------------
// Applying commands

/** Request ids remembered for de-duplication. */
export const MAX_RECENT_REQUESTS = 256

export function applyCommand(state: PartyState, entry: PartyLogEntry): ApplyOutcome {
  const { requestId } = entry
  if (requestId !== undefined) {
    const seen = state.recentRequests?.find((r) => r.id === requestId)
    if (seen !== undefined) return { state, result: seen.result }
    const outcome = applyOnce(state, entry)
    if (!outcome.result.ok) return outcome
    const recentRequests = [
      ...(outcome.state.recentRequests ?? []),
      { id: requestId, result: outcome.result },
    ]
    if (recentRequests.length > MAX_RECENT_REQUESTS) recentRequests.shift()
    return { state: { ...outcome.state, recentRequests }, result: outcome.result }
  }
  return applyOnce(state, entry)
}

function applyOnce(state: PartyState, entry: PartyLogEntry): ApplyOutcome {
  const { command, from, effectivePartyTime: t } = entry
  const refusal = permissionRefusal(state, from, command.type)
  if (refusal !== undefined) return refuse(state, refusal.code, refusal.reason)
  if (!Number.isFinite(t)) return refuse(state, 'invalid', 'effective party time must be finite')

  switch (command.type) {
    case 'join':
      return applyJoin(state, from, command.name, t)
    case 'approve': {
      const request = state.pending.find((p) => p.peerId === command.peerId)
      if (request === undefined)
        return refuse(state, 'not-found', `no pending join request from ${short(command.peerId)}`)
      if (state.members.length >= LIMITS.maxMembers) return refuse(state, 'conflict', 'the party is full')
      return ok({
        ...state,
        pending: state.pending.filter((p) => p.peerId !== command.peerId),
        members: [
          ...state.members,
          { peerId: request.peerId, name: request.name, role: roleFor(state, request.peerId) },
        ],
      })
    }
    case 'reject': {
      if (!state.pending.some((p) => p.peerId === command.peerId)) {
        return refuse(state, 'not-found', `no pending join request from ${short(command.peerId)}`)
      }
      return ok({ ...state, pending: state.pending.filter((p) => p.peerId !== command.peerId) })
    }
    case 'set-host': {
      if (command.peerId !== from) return refuse(state, 'forbidden', 'only a node can make itself the host')
      if (entry.proposer !== from)
        return refuse(
          state,
          'forbidden',
          'set-host refused: only the elected leader can make itself the host (a member cannot claim the host role)',
        )
      if (state.hostPeerId === from) return ok(state)
      const old = state.hostPeerId
      return ok({
        ...state,
        hostPeerId: from,
        members: state.members.map((m) =>
          m.peerId === from
            ? { ...m, role: 'host' }
            : m.peerId === old
              ? { ...m, role: roleFor(state, old) }
              : m,
        ),
      })
    }
    case 'leave':
      if (from === state.hostPeerId)
        return refuse(state, 'invalid', 'the host cannot leave; end the party instead')
      return ok(withoutMember(state, from))
    case 'remove-member':
      if (command.peerId === state.hostPeerId) return refuse(state, 'invalid', 'the host cannot be removed')
      if (memberOf(state, command.peerId) === undefined) {
        return refuse(state, 'not-found', `${short(command.peerId)} is not a member`)
      }
      return ok(withoutMember(state, command.peerId))
    case 'set-permissions': {
      const djs = [...new Set(command.djs ?? state.permissions.djs)]
      if (djs.length > LIMITS.maxDjs) return refuse(state, 'invalid', `at most ${LIMITS.maxDjs} DJs`)
      const permissions: Permissions = { mode: command.mode, djs }
      const members = state.members.map((m) =>
        m.role === 'host'
          ? m
          : {
              ...m,
              role: djs.includes(m.peerId) && command.mode === 'djs' ? ('dj' as const) : ('member' as const),
            },
      )
      return ok({ ...state, permissions, members })
    }
    case 'set-join-policy':
      return ok({ ...state, joinPolicy: command.policy })
    case 'rename': {
      const name = command.name.trim()
      if (name.length === 0 || name.length > LIMITS.maxNameLength)
        return refuse(state, 'invalid', 'party name must be 1–64 characters')
      return ok({ ...state, name })
    }
    case 'enqueue':
      return applyEnqueue(state, from, command.song, command.next === true, t)
    case 'remove':
      return applyRemove(state, command.entryId, t)
    case 'move':
      return applyMove(state, command.entryId, command.toIndex, t)
    case 'play':
      return applyPlay(state, command.entryId, command.position, t)
    case 'pause': {
      const s = reanchor(state, t)
      if (s.timeline.entryId === null) return refuse(state, 'invalid', 'nothing to pause: the queue is empty')
      return ok({ ...s, timeline: { ...s.timeline, paused: true } })
    }
    case 'seek': {
      const s = reanchor(state, t)
      const now = currentEntryAt(s, t)
      if (now.entry === null || now.finished)
        return refuse(state, 'invalid', 'nothing to seek in: no song is current')
      if (!Number.isFinite(command.position) || command.position < 0)
        return refuse(state, 'invalid', 'seek position must be ≥ 0')
      const position = Math.min(command.position, now.entry.durationSec)
      return ok({ ...s, timeline: { ...s.timeline, anchorPosition: position } })
    }
    case 'skip': {
      const s = reanchor(state, t)
      const now = currentEntryAt(s, t)
      if (now.entry === null || now.finished) return refuse(state, 'invalid', 'nothing to skip')
      const next = s.queue[now.index + 1]
      if (next === undefined) {
        // Skipping the last song parks the timeline at its end: the party is idle until something is queued and played.
        return ok(park(s, now.entry, t))
      }
      return ok({
        ...s,
        timeline: { entryId: next.entryId, anchorPartyTime: t, anchorPosition: 0, paused: s.timeline.paused },
      })
    }
    case 'previous': {
      const s = reanchor(state, t)
      const now = currentEntryAt(s, t)
      if (now.entry === null) return refuse(state, 'invalid', 'nothing to go back to')
      const restart = now.position > PREVIOUS_RESTART_THRESHOLD_SEC && !now.finished
      const target = restart || now.index === 0 ? now.entry : s.queue[now.index - 1]
      return ok({
        ...s,
        timeline: {
          entryId: target.entryId,
          anchorPartyTime: t,
          anchorPosition: 0,
          paused: now.finished ? true : s.timeline.paused,
        },
      })
    }
    case 'end':
      return ok({ ...reanchor(state, t, true), ended: true })
  }
}

/** Applies a whole log in order; handy for replicas catching up and for tests. */
export function applyLog(state: PartyState, entries: Iterable<PartyLogEntry>): PartyState {
  let s = state
  for (const entry of entries) s = applyCommand(s, entry).state
  return s
}

function applyJoin(state: PartyState, from: string, rawName: string, t: number): ApplyOutcome {
  const name = rawName.trim()
  if (name.length === 0 || name.length > LIMITS.maxNameLength)
    return refuse(state, 'invalid', 'display name must be 1–64 characters')
  const existing = memberOf(state, from)
  if (existing !== undefined) {
    // A rejoin after a reconnect: keep the role, refresh the name.
    return ok({ ...state, members: state.members.map((m) => (m.peerId === from ? { ...m, name } : m)) })
  }
  if (state.joinPolicy === 'approve') {
    if (state.pending.some((p) => p.peerId === from)) return ok(state)
    if (state.pending.length >= LIMITS.maxPending)
      return refuse(state, 'conflict', 'too many pending join requests')
    return ok({ ...state, pending: [...state.pending, { peerId: from, name, requestedAt: t }] })
  }
  if (state.members.length >= LIMITS.maxMembers) return refuse(state, 'conflict', 'the party is full')
  return ok({ ...state, members: [...state.members, { peerId: from, name, role: roleFor(state, from) }] })
}

function applyEnqueue(
  state: PartyState,
  from: string,
  song: SongRef,
  next: boolean,
  t: number,
): ApplyOutcome {
  if (
    !(Number.isFinite(song.durationSec) && song.durationSec > 0 && song.durationSec <= LIMITS.maxDurationSec)
  ) {
    return refuse(state, 'invalid', 'a song needs a duration between 0 and 24 h')
  }
  if (song.cid.length === 0 || song.cid.length > LIMITS.maxTextLength)
    return refuse(state, 'invalid', 'invalid content id')
  const s = reanchor(state, t)
  const now = currentEntryAt(s, t)
  const upcoming = now.index < 0 ? s.queue.length : s.queue.length - now.index
  if (upcoming >= LIMITS.maxUpcoming)
    return refuse(state, 'conflict', `the queue is full (${LIMITS.maxUpcoming} songs)`)
  const entry: QueueEntry = {
    entryId: `e${s.nextEntrySeq}`,
    cid: song.cid,
    title: clip(song.title, LIMITS.maxTextLength),
    artist: clip(song.artist, LIMITS.maxTextLength),
    durationSec: song.durationSec,
    addedBy: from,
  }
  let queue: QueueEntry[]
  if (next && now.index >= 0 && !now.finished) {
    queue = [...s.queue.slice(0, now.index + 1), entry, ...s.queue.slice(now.index + 1)]
  } else {
    queue = [...s.queue, entry]
  }
  let timeline = s.timeline
  if (timeline.entryId === null) {
    // First song ever: make it current, paused at its start, waiting for play.
    timeline = { entryId: entry.entryId, anchorPartyTime: t, anchorPosition: 0, paused: true }
  }
  return {
    state: trimHistory({ ...s, queue, timeline, nextEntrySeq: s.nextEntrySeq + 1 }, t),
    result: { ok: true, entryId: entry.entryId },
  }
}

function applyRemove(state: PartyState, entryId: string, t: number): ApplyOutcome {
  const s = reanchor(state, t)
  const index = s.queue.findIndex((e) => e.entryId === entryId)
  if (index < 0) return refuse(state, 'not-found', `no queue entry ${entryId}`)
  const queue = s.queue.filter((e) => e.entryId !== entryId)
  let timeline = s.timeline
  if (timeline.entryId === entryId) {
    // Removing the current song: the next one starts at its beginning right away (or the previous one is parked at its end).
    const next = queue[index]
    const prev = queue[index - 1]
    if (next !== undefined)
      timeline = { entryId: next.entryId, anchorPartyTime: t, anchorPosition: 0, paused: timeline.paused }
    else if (prev !== undefined)
      timeline = { entryId: prev.entryId, anchorPartyTime: t, anchorPosition: prev.durationSec, paused: true }
    else timeline = { entryId: null, anchorPartyTime: t, anchorPosition: 0, paused: true }
  }
  return ok({ ...s, queue, timeline })
}

function applyMove(state: PartyState, entryId: string, toIndex: number, t: number): ApplyOutcome {
  const s = reanchor(state, t)
  const from = s.queue.findIndex((e) => e.entryId === entryId)
  if (from < 0) return refuse(state, 'not-found', `no queue entry ${entryId}`)
  if (!Number.isInteger(toIndex) || toIndex < 0 || toIndex >= s.queue.length) {
    return refuse(state, 'invalid', `move target ${toIndex} is outside the queue (0–${s.queue.length - 1})`)
  }
  const queue = [...s.queue]
  const [moved] = queue.splice(from, 1)
  queue.splice(toIndex, 0, moved)
  // The anchor keeps pointing at the same entry (by id), so moving the current song does not change what plays now.
  return ok({ ...s, queue })
}

function applyPlay(
  state: PartyState,
  entryId: string | undefined,
  position: number | undefined,
  t: number,
): ApplyOutcome {
  if (position !== undefined && !(Number.isFinite(position) && position >= 0)) {
    return refuse(state, 'invalid', 'play position must be ≥ 0')
  }
  const s = reanchor(state, t)
  if (entryId !== undefined) {
    const target = s.queue.find((e) => e.entryId === entryId)
    if (target === undefined) return refuse(state, 'not-found', `no queue entry ${entryId}`)
    const p = Math.min(position ?? 0, target.durationSec)
    return ok({ ...s, timeline: { entryId, anchorPartyTime: t, anchorPosition: p, paused: false } })
  }
  const now = currentEntryAt(s, t)
  if (now.entry === null) return refuse(state, 'invalid', 'nothing to play: the queue is empty')
  if (now.finished) {
    const next = s.queue[now.index + 1]
    if (next === undefined)
      return refuse(state, 'invalid', 'nothing to play: the queue has finished; add a song')
    return ok({
      ...s,
      timeline: { entryId: next.entryId, anchorPartyTime: t, anchorPosition: 0, paused: false },
    })
  }
  const p = position === undefined ? now.position : Math.min(position, now.entry.durationSec)
  return ok({
    ...s,
    timeline: { entryId: now.entry.entryId, anchorPartyTime: t, anchorPosition: p, paused: false },
  })
}

/**
 * Re-anchors the timeline at party time `t` on the entry actually playing
 * then, so later queue edits cannot change the past. A finished timeline is
 * parked (paused) at the end of the last entry.
 */
function reanchor(state: PartyState, t: number, pause = false): PartyState {
  const now = currentEntryAt(state, t)
  if (now.entry === null) return state
  if (now.finished) return park(state, now.entry, t)
  return {
    ...state,
    timeline: {
      entryId: now.entry.entryId,
      anchorPartyTime: t,
      anchorPosition: now.position,
      paused: state.timeline.paused || pause,
    },
  }
}

function park(state: PartyState, last: QueueEntry, t: number): PartyState {
  return {
    ...state,
    timeline: { entryId: last.entryId, anchorPartyTime: t, anchorPosition: last.durationSec, paused: true },
  }
}

/** Drops the oldest played entries beyond `maxHistory`. */
function trimHistory(state: PartyState, t: number): PartyState {
  const now = currentEntryAt(state, t)
  const excess = now.index - LIMITS.maxHistory
  if (excess <= 0) return state
  return { ...state, queue: state.queue.slice(excess) }
}

function withoutMember(state: PartyState, peerId: string): PartyState {
  return {
    ...state,
    members: state.members.filter((m) => m.peerId !== peerId),
    pending: state.pending.filter((p) => p.peerId !== peerId),
  }
}

function roleFor(state: PartyState, peerId: string): Role {
  return state.permissions.mode === 'djs' && state.permissions.djs.includes(peerId) ? 'dj' : 'member'
}

function ok(state: PartyState): ApplyOutcome {
  return { state, result: { ok: true } }
}

function refuse(state: PartyState, code: RefusalCode, reason: string): ApplyOutcome {
  return { state, result: { ok: false, code, reason } }
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) : text
}

function short(peerId: string): string {
  return peerId.length > 12 ? `${peerId.slice(0, 6)}…${peerId.slice(-4)}` : peerId
}
