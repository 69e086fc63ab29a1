/**
 * The public party directory: hosts announce their public parties over the
 * gossipsub topic `/tutti/parties/1` and re-announce them periodically;
 * everyone keeps the parties heard within their TTL. The party module calls
 * `announce()` (again whenever the member count or song changes) and
 * `withdraw()`; the UI and CLI read `listParties()`.
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { decodeMessage, encodeMessage, WireError } from '../net/framed.ts'
import type { TuttiLibp2p } from '../net/libp2p.ts'
import type { Clock } from '../shared/clock.ts'
import { TypedEmitter } from '../shared/events.ts'
import { log } from '../shared/logger.ts'
import { PartyTable, type PartyTable as PartyTableType, type PublicParty } from './party-table.ts'
import {
  DirectoryMessage,
  type JoinPolicy,
  MAX_DIRECTORY_MESSAGE_BYTES,
  type NowPlaying,
  PARTY_TOPIC,
  type PartyAnnouncement,
} from './schema.ts'

const logger = log('directory')

export interface DirectoryInit {
  /** How often our public parties are re-announced. Default 10 s. */
  announceIntervalMs?: number
  /** How long others keep a party after its last announcement. Default 3 × the interval. */
  ttlMs?: number
}

export interface DirectoryComponents {
  libp2p: TuttiLibp2p
  clock: Clock
}

/** What the party module announces; the host's peer id and addresses are filled in here. */
export interface PartyAdvert {
  partyId: string
  name: string
  members: number
  nowPlaying?: NowPlaying
  joinPolicy: JoinPolicy
}

export interface DirectoryEvents extends Record<string, unknown> {
  'party:updated': PublicParty
  'party:removed': PublicParty
}

export class Directory extends TypedEmitter<DirectoryEvents> {
  readonly #libp2p: TuttiLibp2p
  readonly #clock: Clock
  readonly #intervalMs: number
  readonly #ttlMs: number
  readonly #table: PartyTableType = new PartyTable()
  readonly #own = new Map<string, PartyAdvert>()
  #seq = 0
  #timer: ReturnType<typeof setInterval> | undefined
  readonly #onMessage = (evt: CustomEvent<{ type: string; topic: string; data: Uint8Array }>) => {
    if (evt.detail.topic !== PARTY_TOPIC) return
    this.#apply(evt.detail.data)
  }

  constructor(init: DirectoryInit, components: DirectoryComponents) {
    super()
    this.#libp2p = components.libp2p
    this.#clock = components.clock
    this.#intervalMs = init.announceIntervalMs ?? 10_000
    this.#ttlMs = Math.min(600_000, Math.max(1_000, init.ttlMs ?? this.#intervalMs * 3))
    // Sequence numbers must grow across restarts too: start from the clock.
    this.#seq = Math.floor(this.#clock.now())
  }

  start(): void {
    if (this.#timer !== undefined) return
    const pubsub = this.#libp2p.services.pubsub
    // Invalid or forged announcements are rejected inside gossipsub, which also lowers the
    // sender's peer score, so they are never forwarded.
    pubsub.topicValidators.set(PARTY_TOPIC, (_peer: PeerId, message) => {
      try {
        const decoded = decodeMessage(DirectoryMessage, message.data, MAX_DIRECTORY_MESSAGE_BYTES)
        if (message.type !== 'signed') return TopicValidatorResult.Reject
        const host = decoded.type === 'announce' ? decoded.host.peerId : decoded.hostPeerId
        return host === message.from.toString() ? TopicValidatorResult.Accept : TopicValidatorResult.Reject
      } catch {
        return TopicValidatorResult.Reject
      }
    })
    pubsub.addEventListener('message', this.#onMessage as never)
    pubsub.subscribe(PARTY_TOPIC)
    this.#timer = setInterval(() => this.#tick(), Math.min(this.#intervalMs, 5_000))
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
    for (const partyId of [...this.#own.keys()]) await this.withdraw(partyId).catch(() => {})
    const pubsub = this.#libp2p.services.pubsub
    pubsub.removeEventListener('message', this.#onMessage as never)
    pubsub.topicValidators.delete(PARTY_TOPIC)
    try {
      pubsub.unsubscribe(PARTY_TOPIC)
    } catch {
      // libp2p may already be stopping
    }
  }

  /** Announces (or updates) one of our public parties now, and re-announces it until withdrawn. */
  async announce(party: PartyAdvert): Promise<void> {
    this.#own.set(party.partyId, party)
    this.#lastAnnounce = this.#clock.now()
    await this.#publish(party)
  }

  /** Stops announcing a party and tells the others to drop it now. */
  async withdraw(partyId: string): Promise<void> {
    if (!this.#own.delete(partyId)) return
    const hostPeerId = this.#libp2p.peerId.toString()
    const message: DirectoryMessage = { type: 'withdraw', partyId, hostPeerId, seq: ++this.#seq }
    this.#table.withdraw(message)
    await this.#libp2p.services.pubsub
      .publish(PARTY_TOPIC, encodeMessage(DirectoryMessage, message))
      .catch((err: Error) => {
        logger('withdrawing %s failed: %s', partyId, err.message)
      })
  }

  /** Public parties heard within their TTL (ours included), the busiest first. */
  listParties(): PublicParty[] {
    this.#expire()
    return this.#table.list(this.#clock.now())
  }

  #lastAnnounce = 0

  #tick(): void {
    this.#expire()
    const now = this.#clock.now()
    if (now - this.#lastAnnounce < this.#intervalMs) return
    this.#lastAnnounce = now
    for (const party of this.#own.values()) void this.#publish(party)
  }

  async #publish(party: PartyAdvert): Promise<void> {
    const message: PartyAnnouncement = {
      type: 'announce',
      partyId: party.partyId,
      name: party.name.slice(0, 100),
      host: {
        peerId: this.#libp2p.peerId.toString(),
        addrs: this.#libp2p
          .getMultiaddrs()
          .map(String)
          .filter((a) => a.length <= 300)
          .slice(0, 8),
      },
      members: party.members,
      nowPlaying: party.nowPlaying,
      joinPolicy: party.joinPolicy,
      seq: ++this.#seq,
      ttlMs: this.#ttlMs,
    }
    const bytes = encodeMessage(DirectoryMessage, message)
    this.#record(this.#table.announce(message, this.#clock.now()))
    await this.#libp2p.services.pubsub.publish(PARTY_TOPIC, bytes).catch((err: Error) => {
      logger('announcing %s failed: %s', party.partyId, err.message)
    })
  }

  #apply(data: Uint8Array): void {
    let message: DirectoryMessage
    try {
      message = decodeMessage(DirectoryMessage, data, MAX_DIRECTORY_MESSAGE_BYTES)
    } catch (err) {
      if (err instanceof WireError) logger('ignoring a malformed directory message: %s', err.message)
      return
    }
    if (message.type === 'announce') this.#record(this.#table.announce(message, this.#clock.now()))
    else this.#record(this.#table.withdraw(message))
  }

  #expire(): void {
    for (const change of this.#table.expire(this.#clock.now())) this.#record(change)
  }

  #record(change: ReturnType<PartyTable['expire']>[number] | undefined): void {
    if (change === undefined) return
    if (change.type === 'updated') this.emit('party:updated', change.party)
    else this.emit('party:removed', change.party)
  }
}

export function createDirectory(init: DirectoryInit, components: DirectoryComponents): Directory {
  return new Directory(init, components)
}
