/**
 * Speaker tokens: a restricted credential for the speaker page. Whoever holds
 * one may open `/speaker#token=…`, read the party's timeline, ping the party
 * clock and stream the songs of the party's queue from the one playing now
 * onwards — nothing else (no commands, no library, no other songs, no event
 * stream, no settings). Tokens live in memory and die with the party.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { ScopedCredential } from '../api/types.ts'
import { currentEntryAt, type PartyState, type PlaybackPosition } from './state.ts'

/** Party routes a speaker token opens (method + exact path). */
const SPEAKER_ROUTES: ReadonlyArray<{ method: string; path: string }> = [
  { method: 'GET', path: '/api/party/speaker/state' },
  { method: 'POST', path: '/api/party/speaker/clock' },
]

/** `/api/songs/<cid>/stream`: the only song route a speaker needs (its player fetches the bytes). */
const SONG_STREAM = /^\/api\/songs\/([^/]+)\/stream$/

/** What the speaker scope reads from the party's status: its queue, the committed timeline, what plays now. */
export interface SpeakerPartyView extends Pick<PartyState, 'queue' | 'timeline'> {
  nowPlaying: Pick<PlaybackPosition, 'entry'>
  partyTime: number
}

/**
 * Songs a speaker may stream: the queue from the entry playing now onwards.
 * "Now" is the earlier of what is in force (`nowPlaying`) and what the latest
 * committed timeline plays at this party time (a play or previous stamped a
 * moment ahead), so a speaker can load the song it is about to play. Songs
 * already played are not included; with nothing started, the whole queue is.
 */
export function speakerSongs(party: SpeakerPartyView | undefined): Set<string> {
  if (party === undefined) return new Set()
  const { queue } = party
  const inForce = queue.findIndex((e) => e.entryId === party.nowPlaying.entry?.entryId)
  const committed = currentEntryAt(party, party.partyTime).index
  const starts = [inForce, committed].filter((i) => i >= 0)
  const from = starts.length === 0 ? 0 : Math.min(...starts)
  return new Set(queue.slice(from).map((e) => e.cid))
}

/**
 * Whether a speaker token opens `method` `path` (no query string): the speaker
 * state and clock routes, and the bytes of a song in `speakerSongs(party)`.
 */
export function speakerTokenAllows(method: string, path: string, party?: SpeakerPartyView): boolean {
  if (SPEAKER_ROUTES.some((r) => r.method === method && r.path === path)) return true
  const song = method === 'GET' ? SONG_STREAM.exec(path) : null
  if (song === null) return false
  let cid: string
  try {
    cid = decodeURIComponent(song[1])
  } catch {
    return false
  }
  return speakerSongs(party).has(cid)
}

/** The API credential for a party's speaker tokens (`components.credentials`). */
export function speakerCredential(party: {
  isSpeakerToken(token: string): boolean
  status(): SpeakerPartyView | undefined
}): ScopedCredential {
  return {
    allows: (token, method, path) =>
      party.isSpeakerToken(token) && speakerTokenAllows(method, path, party.status()),
  }
}

/** Loopback spellings: a link naming one of these opens only on this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '')
  return h === 'localhost' || h === '::1' || h.startsWith('127.') || h.startsWith('::ffff:127.')
}

export interface SpeakerLinkFacts {
  /** The origin the caller asked for (the UI sends its own); absent from the CLI. */
  requested?: string
  /** The request's Host header (used when no origin is given). */
  hostHeader?: string
  /** The address the API listens on: 127.0.0.1 without --expose-lan, 0.0.0.0 / :: with it. */
  listening: string
  /** This machine's LAN IPv4 addresses (non-internal), for a link a phone can open. */
  lanAddresses: readonly string[]
}

/** Printed with a speaker link that other devices cannot open (API on loopback only). */
export const LOOPBACK_SPEAKER_WARNING =
  'this speaker link works only on this computer: the node’s API listens on 127.0.0.1 only (no --expose-lan), so phones and other devices cannot open it. Restart the node with --expose-lan (tutti start --expose-lan) and make a new speaker link.'

/**
 * Where a speaker link should point, and a warning when phones cannot open it.
 * With the API on loopback only, every link is local: warn. With --expose-lan,
 * a link that names a loopback address (the CLI, or a UI opened on 127.0.0.1)
 * is re-pointed at the machine's LAN address, same port.
 */
export function speakerLinkOrigin(facts: SpeakerLinkFacts): { origin: string; warning?: string } {
  const origin = (facts.requested ?? `http://${facts.hostHeader ?? '127.0.0.1'}`).replace(/\/$/, '')
  if (isLoopbackHost(facts.listening)) return { origin, warning: LOOPBACK_SPEAKER_WARNING }
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return { origin }
  }
  if (!isLoopbackHost(url.hostname)) return { origin }
  const lan = facts.lanAddresses[0]
  if (lan === undefined)
    return {
      origin,
      warning: `this speaker link names ${url.hostname}, which only this computer can open, and no LAN address was found for it: connect this machine to the network the speakers are on, then make a new speaker link.`,
    }
  url.hostname = lan
  return { origin: url.origin }
}

export class SpeakerTokens {
  #tokens = new Set<string>()

  issue(): string {
    const token = `spk_${randomBytes(24).toString('base64url')}`
    this.#tokens.add(token)
    if (this.#tokens.size > 32) this.#tokens.delete(this.#tokens.values().next().value as string)
    return token
  }

  /** Constant-time check. */
  verify(given: string | undefined): boolean {
    if (given === undefined) return false
    const g = Buffer.from(given)
    for (const t of this.#tokens) {
      const b = Buffer.from(t)
      if (b.length === g.length && timingSafeEqual(b, g)) return true
    }
    return false
  }

  revokeAll(): void {
    this.#tokens.clear()
  }
}
