/**
 * Who votes. A party can have hundreds of members, but a Raft group with
 * hundreds of voters would be slow to commit and to elect; so at most five
 * members vote and everyone else is a learner (receives the log, never
 * votes). Pure: the leader's shell feeds it the current configuration and
 * what it knows about each member's connectivity, and proposes the single
 * change it returns (Raft allows one membership change at a time).
 */
import type { ConfChange, ConfState } from '../raft/types.ts'

export const MAX_VOTERS = 5

export interface MemberHealth {
  peerId: string
  /** Heard from recently (within a few election timeouts). */
  healthy: boolean
  /** Round-trip time to the leader, ms, when known. Lower is better. */
  rttMs?: number
  /** How long the member has been continuously reachable, ms. Longer is better. */
  uptimeMs: number
}

/** When the leader last heard from a peer, and since when without a gap. */
export interface PeerHeard {
  firstHeard: number
  lastHeard: number
}

export interface HealthInput {
  /** The party's members (the leader included). */
  memberIds: Iterable<string>
  selfId: string
  now: number
  /** A peer heard from within this long is reachable. */
  freshMs: number
  heard: ReadonlyMap<string, PeerHeard>
  /** Learners in the configuration: one is ready to vote only once it has nearly caught up. */
  learners: readonly string[]
  /** The highest log index known replicated on `peerId`. */
  matchOf: (peerId: string) => number
  lastIndex: number
  /** Measured round-trip times (ms) from the leader, where known. */
  rtts?: ReadonlyMap<string, number>
}

/** What the leader knows of each member's connectivity, for `nextMembershipChange` and hand-off. */
export function memberHealth(input: HealthInput): MemberHealth[] {
  const ids = new Set(input.memberIds)
  ids.add(input.selfId)
  return [...ids].map((peerId) => {
    if (peerId === input.selfId) return { peerId, healthy: true, uptimeMs: Number.MAX_SAFE_INTEGER }
    const seen = input.heard.get(peerId)
    const fresh = seen !== undefined && input.now - seen.lastHeard < input.freshMs
    const caughtUp = !input.learners.includes(peerId) || input.matchOf(peerId) >= input.lastIndex - 100
    const rttMs = input.rtts?.get(peerId)
    return {
      peerId,
      healthy: fresh && caughtUp,
      uptimeMs: fresh ? input.now - seen.firstHeard : 0,
      ...(rttMs === undefined ? {} : { rttMs }),
    }
  })
}

export interface VoterPolicy {
  maxVoters?: number
}

/**
 * Better candidates first: healthy, then long-lived (a member that has
 * stayed is likely to stay), then low RTT, then peer id for determinism.
 */
export function rankCandidates(members: readonly MemberHealth[]): MemberHealth[] {
  return [...members].sort(
    (a, b) =>
      Number(b.healthy) - Number(a.healthy) ||
      bucket(b.uptimeMs) - bucket(a.uptimeMs) ||
      (a.rttMs ?? Number.POSITIVE_INFINITY) - (b.rttMs ?? Number.POSITIVE_INFINITY) ||
      (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0),
  )
}

/** Uptime in coarse steps, so two members a few seconds apart tie and RTT decides. */
function bucket(uptimeMs: number): number {
  return Math.floor(Math.log2(1 + Math.max(0, uptimeMs) / 10_000))
}

/**
 * How many voters the group should have: as many members as allowed,
 * rounded down to an odd number (4 voters tolerate no more failures than 3
 * and need a larger quorum). Never fewer than 1.
 */
export function targetVoterCount(members: number, maxVoters = MAX_VOTERS): number {
  const n = Math.max(1, Math.min(maxVoters, members))
  return n % 2 === 0 ? n - 1 : n
}

/**
 * The next single membership change, or undefined when the configuration is
 * where it should be. `members` are the party's members (the leader
 * included); `leaderId` is never demoted or removed (it must transfer
 * leadership first). Order of concerns: drop those who left, add newcomers
 * as learners, replace a failed voter, then grow or shrink to the target.
 */
export function nextMembershipChange(
  conf: ConfState,
  members: readonly MemberHealth[],
  leaderId: string,
  policy: VoterPolicy = {},
): ConfChange | undefined {
  const maxVoters = policy.maxVoters ?? MAX_VOTERS
  const byId = new Map(members.map((m) => [m.peerId, m]))
  const inConf = new Set([...conf.voters, ...conf.learners])

  // 1. Someone left the party: out of the group (learners first: cheapest).
  for (const id of [...conf.learners, ...conf.voters]) {
    if (id !== leaderId && !byId.has(id)) return { type: 'removeNode', node: id }
  }
  // 2. A newcomer: a learner first; it is promoted once it proves reachable.
  for (const m of rankCandidates(members)) {
    if (!inConf.has(m.peerId)) return { type: 'addLearner', node: m.peerId }
  }

  const voters = conf.voters.map((id) => byId.get(id)).filter((m) => m !== undefined)
  const learners = rankCandidates(
    conf.learners.map((id) => byId.get(id)).filter((m) => m !== undefined),
  ).filter((m) => m.healthy)
  // Sized by membership, not by who is healthy right now: a brief outage must
  // not shrink the group (and its fault tolerance) only to grow it back.
  const target = targetVoterCount(members.length, maxVoters)

  // 3. A failed voter while a healthy learner could take its seat: demote it
  //    (it comes back as a learner through step 2 while still a member).
  const failed = voters.find((v) => !v.healthy && v.peerId !== leaderId)
  if (failed !== undefined && learners.length > 0) return { type: 'removeNode', node: failed.peerId }

  // 4. Grow to the target with the best learner.
  if (conf.voters.length < target && learners.length > 0) {
    return { type: 'addVoter', node: learners[0].peerId }
  }
  // 5. Shrink: the worst voter that is not the leader becomes a learner.
  if (conf.voters.length > target) {
    const worst = rankCandidates(voters)
      .reverse()
      .find((v) => v.peerId !== leaderId)
    if (worst !== undefined) return { type: 'removeNode', node: worst.peerId }
  }
  return undefined
}
