/**
 * The parties this node knows of (pure: the caller passes the time). Keyed by
 * host and party id; a newer `seq` replaces an older one, a withdrawal
 * removes, and an entry not re-announced within its TTL expires.
 */
import type { PartyAnnouncement, PartyWithdrawal } from './schema.ts'

export interface PublicParty {
  partyId: string
  name: string
  host: { peerId: string; addrs: string[] }
  members: number
  nowPlaying?: { title: string; artist: string; cid?: string }
  joinPolicy: PartyAnnouncement['joinPolicy']
  /** When we last heard of it (clock ms). */
  lastSeen: number
  expiresAt: number
}

export type TableChange = { type: 'updated'; party: PublicParty } | { type: 'removed'; party: PublicParty }

interface Entry {
  party: PublicParty
  seq: number
}

export class PartyTable {
  readonly #entries = new Map<string, Entry>()
  readonly #max: number

  constructor(max = 1_000) {
    this.#max = max
  }

  /** Applies an announcement; returns the change, or undefined when it was stale. */
  announce(message: PartyAnnouncement, now: number): TableChange | undefined {
    const key = keyOf(message.host.peerId, message.partyId)
    const known = this.#entries.get(key)
    if (known !== undefined && known.seq >= message.seq && known.party.expiresAt > now) return undefined
    if (known === undefined && this.#entries.size >= this.#max) this.#evictOldest()
    const party: PublicParty = {
      partyId: message.partyId,
      name: message.name,
      host: message.host,
      members: message.members,
      nowPlaying: message.nowPlaying,
      joinPolicy: message.joinPolicy,
      lastSeen: now,
      expiresAt: now + message.ttlMs,
    }
    this.#entries.set(key, { party, seq: message.seq })
    return { type: 'updated', party }
  }

  withdraw(message: PartyWithdrawal): TableChange | undefined {
    const key = keyOf(message.hostPeerId, message.partyId)
    const known = this.#entries.get(key)
    if (known === undefined || known.seq > message.seq) return undefined
    this.#entries.delete(key)
    return { type: 'removed', party: known.party }
  }

  /** Removes expired parties; returns them. */
  expire(now: number): TableChange[] {
    const gone: TableChange[] = []
    for (const [key, entry] of this.#entries) {
      if (entry.party.expiresAt <= now) {
        this.#entries.delete(key)
        gone.push({ type: 'removed', party: entry.party })
      }
    }
    return gone
  }

  /** Live parties, the busiest first. */
  list(now: number): PublicParty[] {
    return [...this.#entries.values()]
      .map((e) => e.party)
      .filter((p) => p.expiresAt > now)
      .sort((a, b) => b.members - a.members || a.name.localeCompare(b.name))
  }

  #evictOldest(): void {
    let oldest: [string, Entry] | undefined
    for (const entry of this.#entries)
      if (oldest === undefined || entry[1].party.lastSeen < oldest[1].party.lastSeen) oldest = entry
    if (oldest !== undefined) this.#entries.delete(oldest[0])
  }
}

function keyOf(hostPeerId: string, partyId: string): string {
  return `${hostPeerId}/${partyId}`
}
