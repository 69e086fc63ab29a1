/**
 * Network search, Gnutella-style: a query floods to connected neighbours
 * with a TTL and a random id; each node answers from its own library once per
 * id, forwards to at most `fanout` neighbours while TTL remains, and drops
 * queries beyond a per-neighbour token bucket (the offender's score notes it).
 *
 * How answers get back: over connections that already exist. A responder
 * connected to the asker answers it directly (one hop); otherwise the result
 * travels back along the query path (each node remembers which neighbour a
 * query came from, and jumps straight to the asker when it happens to be
 * connected to it). Only when the path is broken does the responder dial the
 * asker at the addresses the query carried (relay addresses included).
 * Why not always dial the asker, as the first version did: a fresh dial is a
 * TCP + noise + yamux handshake (several RTTs and real CPU) per responder,
 * it fails outright for an asker behind NAT without a relay, libp2p caps
 * inbound connections per source IP (5/s by default), and every dialled-back
 * connection would become a flooding neighbour and distort the overlay.
 * Measured on 50 loopback nodes, dial-back lost most answers; see
 * bench/search.ts. The asker then pings providers in the background for RTT.
 */
import { randomBytes } from 'node:crypto'
import type { Connection, PeerId, PrivateKey, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { z } from 'zod'
import type { Library } from '../library/types.ts'
import { FramedStream, WireError } from '../net/framed.ts'
import type { TuttiLibp2p } from '../net/libp2p.ts'
import type { Clock } from '../shared/clock.ts'
import { TypedEmitter } from '../shared/events.ts'
import { log } from '../shared/logger.ts'
import { signAnswer, verifyAnswer } from './answer-signature.ts'
import { CatalogService } from './catalog.ts'
import { EmptyQueryError } from './errors.ts'
import { LocalMatcher } from './local-match.ts'
import { NeighbourStreams } from './neighbour-streams.ts'
import type { Provider } from './rank.ts'
import { TokenBuckets } from './rate-limit.ts'
import { currentReachability, type Reachability } from './reachability.ts'
import {
  MAX_HITS_PER_RESULT,
  MAX_QUERY_BYTES,
  MAX_RESULT_BYTES,
  MAX_TTL,
  NoMessage,
  QueryMessage,
  RESULTS_PROTOCOL,
  ResultMessage,
  SEARCH_PROTOCOL,
  type SongHit,
} from './schema.ts'
import { SeenCache } from './seen-cache.ts'
import { SearchSession } from './session.ts'
import { type ShareScopeCheck, shareEverything } from './share.ts'
import { TextIndex } from './text-index.ts'

const logger = log('search')

/** An inbound query or result stream with no frame for this long is closed. */
const STREAM_IDLE_MS = 120_000
/**
 * A provider's RTT: a ping, and one more with longer patience if it fails.
 * The first ping often has to dial; on a busy host (the full test suite on
 * two cores) that took longer than 3 s, and one try left the result without
 * an RTT for good.
 */
const PING_TIMEOUTS_MS = [3_000, 10_000]

export interface SearchInit {
  /** TTL of queries this node starts. Default 4. */
  defaultTtl?: number
  /** Neighbours a query is forwarded to, at most. Default 8. */
  fanout?: number
  /**
   * Queries accepted per origin peer: sustained rate and burst. Default 5/s, burst 20.
   * A neighbour may pass on four times as much in total (it relays for many origins).
   */
  rateLimit?: { perSecond: number; burst: number }
  /** How long a query id is remembered for de-duplication. Default 60 s. */
  seenTtlMs?: number
  /** How long a search collects results. Default 5 s. */
  timeoutMs?: number
  /** Bound on dialling a neighbour or the asker. Default 5 s. */
  dialTimeoutMs?: number
  /** Most hits one node answers a query with. Default 20. */
  maxHitsPerAnswer?: number
  /** Ping providers whose RTT is not known yet (dials them). Default true. */
  measureRtt?: boolean
}

export interface SearchComponents {
  libp2p: TuttiLibp2p
  library: Library
  clock: Clock
  /** Active uploads of this node (the swarm supplies it); sent with every answer. */
  load?: () => number
  /** May this peer see this song? Default: share everything with everyone. */
  shareScope?: ShareScopeCheck
  /** Smoothed RTT to a peer if already measured (the peer table's); else search pings. */
  rtt?: (peerId: string) => number | undefined
  /**
   * This node's libp2p identity key, to sign answers (answer-signature.ts). Default: the key
   * the libp2p node runs with (read from its components).
   */
  privateKey?: PrivateKey
}

export interface SearchQuery {
  text?: string
  title?: string
  artist?: string
  album?: string
  minDurationSec?: number
  maxDurationSec?: number
}

export interface SearchOptions {
  ttl?: number
  timeoutMs?: number
  /** Most hits each responder should send. */
  limit?: number
  signal?: AbortSignal
}

/** Counters since start: what the benchmark reports as messages per query. */
export interface SearchStats {
  queriesStarted: number
  /** Query frames this node sent (its own and forwarded). */
  queryMessagesSent: number
  queriesReceived: number
  duplicatesDropped: number
  rateLimited: number
  malformed: number
  /** Result frames sent (own answers and relayed back). */
  resultMessagesSent: number
  resultsRoutedBack: number
  resultMessagesReceived: number
  /** Answers passed to us (for us or to pass on) without a valid signature of the provider they name: dropped. */
  forgedDropped: number
}

export interface PeerScore {
  peerId: string
  rateLimited: number
  malformed: number
  /** Answers it passed us that the named provider did not sign. */
  forged: number
}

export interface SearchEvents extends Record<string, unknown> {
  'query:answered': { queryId: string; origin: string; hits: number }
  'query:rate-limited': { peerId: string; queryId: string }
  'query:refused': { peerId: string; reason: string }
}

export class Search extends TypedEmitter<SearchEvents> {
  readonly #libp2p: TuttiLibp2p
  readonly #clock: Clock
  readonly #load: () => number
  readonly #rtt: (peerId: string) => number | undefined
  readonly #matcher: LocalMatcher
  readonly #catalog: CatalogService
  readonly #originBuckets: TokenBuckets
  readonly #neighbourBuckets: TokenBuckets
  readonly #seen: SeenCache
  readonly #sessions = new Map<string, { session: SearchSession; startedAt: number }>()
  readonly #scores = new Map<string, PeerScore>()
  readonly #rttCache = new Map<string, { rttMs: number; at: number }>()
  readonly #pings = new Map<string, Promise<number | undefined>>()
  readonly #streams: NeighbourStreams
  readonly #measureRtts: boolean
  readonly #stats: SearchStats = {
    queriesStarted: 0,
    queryMessagesSent: 0,
    queriesReceived: 0,
    duplicatesDropped: 0,
    rateLimited: 0,
    malformed: 0,
    resultMessagesSent: 0,
    resultsRoutedBack: 0,
    resultMessagesReceived: 0,
    forgedDropped: 0,
  }
  readonly #defaultTtl: number
  readonly #fanout: number
  readonly #timeoutMs: number
  readonly #dialTimeoutMs: number
  readonly #maxHits: number
  readonly #privateKey: PrivateKey | undefined
  #started = false

  constructor(init: SearchInit, components: SearchComponents) {
    super()
    this.#libp2p = components.libp2p
    this.#clock = components.clock
    this.#load = components.load ?? (() => 0)
    this.#rtt = components.rtt ?? (() => undefined)
    const shareScope = components.shareScope ?? shareEverything
    this.#matcher = new LocalMatcher(components.library, shareScope)
    this.#catalog = new CatalogService({ libp2p: components.libp2p, library: components.library, shareScope })
    this.#defaultTtl = Math.min(MAX_TTL, init.defaultTtl ?? 4)
    this.#fanout = init.fanout ?? 8
    const rate = init.rateLimit ?? { perSecond: 5, burst: 20 }
    this.#originBuckets = new TokenBuckets(rate)
    this.#neighbourBuckets = new TokenBuckets({ perSecond: rate.perSecond * 4, burst: rate.burst * 4 })
    this.#seen = new SeenCache(init.seenTtlMs ?? 60_000)
    this.#timeoutMs = init.timeoutMs ?? 5_000
    this.#dialTimeoutMs = init.dialTimeoutMs ?? 5_000
    this.#maxHits = Math.min(MAX_HITS_PER_RESULT, init.maxHitsPerAnswer ?? 20)
    this.#measureRtts = init.measureRtt ?? true
    this.#privateKey = components.privateKey ?? libp2pPrivateKey(components.libp2p)
    this.#streams = new NeighbourStreams(components.libp2p, { dialTimeoutMs: this.#dialTimeoutMs })
  }

  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    this.#matcher.start()
    this.#streams.start()
    // Relayed (limited) connections carry search too: they are small messages, and they are
    // how a node behind NAT takes part at all.
    await this.#libp2p.handle(
      SEARCH_PROTOCOL,
      (stream, connection) => this.#onQueryStream(stream, connection),
      {
        runOnLimitedConnection: true,
      },
    )
    await this.#libp2p.handle(
      RESULTS_PROTOCOL,
      (stream, connection) => this.#onResultStream(stream, connection),
      {
        runOnLimitedConnection: true,
      },
    )
    await this.#catalog.start()
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    for (const { session } of [...this.#sessions.values()]) session.end()
    this.#matcher.stop()
    await this.#streams.stop()
    await this.#catalog.stop()
    await this.#libp2p.unhandle([SEARCH_PROTOCOL, RESULTS_PROTOCOL]).catch(() => {})
  }

  /** Starts a network search; hits stream in on the returned session. Throws EmptyQueryError when there is nothing to match. */
  search(query: SearchQuery, options: SearchOptions = {}): SearchSession {
    const { text = '', ...filters } = query
    const cleanFilters = Object.fromEntries(
      Object.entries(filters).filter(([, v]) => v !== undefined && v !== ''),
    )
    if (!TextIndex.hasTerms({ text, ...cleanFilters })) throw new EmptyQueryError()
    const id = randomBytes(16).toString('hex')
    const startedAt = this.#clock.now()
    const session = new SearchSession(id, () => {
      this.#sessions.delete(id)
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
    })
    const onAbort = () => session.end()
    const timer = setTimeout(onAbort, options.timeoutMs ?? this.#timeoutMs)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    this.#sessions.set(id, { session, startedAt })
    this.#stats.queriesStarted++
    const self = this.#libp2p.peerId.toString()
    this.#seen.add(id, self, startedAt, self)
    const message: QueryMessage = {
      id,
      ttl: Math.max(1, Math.min(MAX_TTL, options.ttl ?? this.#defaultTtl)),
      hops: 0,
      origin: { peerId: self, addrs: this.#advertisedAddrs() },
      text: text.slice(0, 200),
      filters: cleanFilters as QueryMessage['filters'],
      limit: Math.min(MAX_HITS_PER_RESULT, options.limit ?? this.#maxHits),
    }
    if (options.signal?.aborted === true) session.end()
    else this.#forward(message, new Set([self]))
    return session
  }

  /** Browse another peer's shared library, one sorted page at a time. */
  get catalog(): CatalogService {
    return this.#catalog
  }

  reachability(): Reachability {
    return currentReachability(this.#libp2p)
  }

  stats(): SearchStats {
    return { ...this.#stats }
  }

  /** Peers that sent too many or malformed queries, worst first. */
  offenders(): PeerScore[] {
    return [...this.#scores.values()].sort(
      (a, b) => b.rateLimited + b.malformed + b.forged - (a.rateLimited + a.malformed + a.forged),
    )
  }

  /** Songs of this node matching a query, as a remote asker would see them. */
  matchLocal(query: SearchQuery, asker: string, limit = this.#maxHits): SongHit[] {
    const { text = '', ...filters } = query
    return this.#matcher.match(text, filters, asker, limit)
  }

  async #onQueryStream(stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    const framed = new FramedStream(stream, QueryMessage, NoMessage, { maxMessageBytes: MAX_QUERY_BYTES })
    try {
      // A neighbour keeps one stream open for all its queries; close it after a quiet spell.
      for (
        let query = await this.#readIdle(framed);
        query !== undefined;
        query = await this.#readIdle(framed)
      )
        this.#onQuery(query, from)
      await framed.close()
    } catch (err) {
      if (err instanceof WireError) {
        this.#stats.malformed++
        this.#score(from).malformed++
        this.emit('query:refused', { peerId: from, reason: err.message })
        logger('refused a malformed query from %s: %s', from, err.message)
      }
      framed.abort(err as Error)
    }
  }

  #onQuery(query: QueryMessage, from: string): void {
    const now = this.#clock.now()
    this.#stats.queriesReceived++
    // Two buckets: per origin, so an honest neighbour relaying someone's flood is not blamed
    // (nor its other traffic starved), and per neighbour, so rotating made-up origin ids does
    // not get a flood past the first hop. At hop 0 the neighbour IS the origin, whatever it claims.
    const origin = query.hops === 0 ? from : query.origin.peerId
    const offender = !this.#originBuckets.take(origin, now)
      ? origin
      : !this.#neighbourBuckets.take(from, now)
        ? from
        : undefined
    if (offender !== undefined) {
      this.#stats.rateLimited++
      this.#score(offender).rateLimited++
      this.emit('query:rate-limited', { peerId: offender, queryId: query.id })
      return
    }
    if (!this.#seen.add(query.id, from, now, query.origin.peerId)) {
      this.#stats.duplicatesDropped++
      return
    }
    const self = this.#libp2p.peerId.toString()
    if (query.origin.peerId === self) return
    const hits = this.#matcher.match(
      query.text,
      query.filters,
      query.origin.peerId,
      Math.min(query.limit, this.#maxHits),
    )
    if (hits.length > 0) {
      this.emit('query:answered', { queryId: query.id, origin: query.origin.peerId, hits: hits.length })
      void this.#answer(query, hits, from)
    }
    const ttl = Math.min(query.ttl, MAX_TTL) - 1
    if (ttl >= 1) {
      this.#forward({ ...query, ttl, hops: query.hops + 1 }, new Set([self, from, query.origin.peerId]))
    }
  }

  #forward(query: QueryMessage, exclude: Set<string>): void {
    const neighbours = new Map<string, PeerId>()
    for (const connection of this.#libp2p.getConnections()) {
      const id = connection.remotePeer.toString()
      if (connection.status === 'open' && !exclude.has(id)) neighbours.set(id, connection.remotePeer)
    }
    const chosen = shuffle([...neighbours.values()]).slice(0, this.#fanout)
    for (const peer of chosen) {
      void this.#send(peer, SEARCH_PROTOCOL, QueryMessage, query, MAX_QUERY_BYTES)
        .then(() => {
          this.#stats.queryMessagesSent++
        })
        .catch((err: Error) => logger('forwarding query to %p failed: %s', peer, err.message))
    }
  }

  async #answer(query: QueryMessage, hits: SongHit[], from: string): Promise<void> {
    const unsigned: ResultMessage = {
      queryId: query.id,
      provider: { peerId: this.#libp2p.peerId.toString(), addrs: this.#advertisedAddrs() },
      load: Math.max(0, Math.min(10_000, Math.round(this.#load()))),
      hops: Math.min(16, query.hops + 1),
      backHops: 0,
      hits,
    }
    // Signed even when sent directly: the same answer may have to go back along the path.
    const result = this.#privateKey === undefined ? unsigned : await signAnswer(unsigned, this.#privateKey)
    const origin = query.origin.peerId
    // 1. Already connected to the asker: one hop, no handshake.
    if (this.#connected(origin) && (await this.#trySend(origin, result))) return
    // 2. Back along the query path, over connections that already exist.
    if (from !== origin && (await this.#routeBack(result, from))) return
    // 3. Last resort: dial the asker at the addresses its query carried (relay addresses included).
    await this.#learnAddrs(origin, query.origin.addrs)
    if (!(await this.#trySend(origin, result))) logger('could not return a result to %s', origin)
  }

  async #routeBack(result: ResultMessage, via: string): Promise<boolean> {
    if (result.backHops >= 16) return false
    const sent = await this.#trySend(via, { ...result, backHops: result.backHops + 1 })
    if (sent) this.#stats.resultsRoutedBack++
    return sent
  }

  async #trySend(peerId: string, result: ResultMessage): Promise<boolean> {
    try {
      await this.#send(peerIdFromString(peerId), RESULTS_PROTOCOL, ResultMessage, result, MAX_RESULT_BYTES)
      this.#stats.resultMessagesSent++
      return true
    } catch (err) {
      logger('sending a result to %s failed: %s', peerId, (err as Error).message)
      return false
    }
  }

  #connected(peerId: string): boolean {
    try {
      return this.#libp2p.getConnections(peerIdFromString(peerId)).some((c) => c.status === 'open')
    } catch {
      return false
    }
  }

  async #learnAddrs(peerId: string, addrs: string[]): Promise<void> {
    if (this.#connected(peerId)) return
    const parsed = addrs.flatMap((a) => {
      try {
        return [multiaddr(a)]
      } catch {
        return []
      }
    })
    await this.#libp2p.peerStore.merge(peerIdFromString(peerId), { multiaddrs: parsed }).catch(() => {})
  }

  async #onResultStream(stream: Stream, connection: Connection): Promise<void> {
    const framed = new FramedStream(stream, ResultMessage, NoMessage, { maxMessageBytes: MAX_RESULT_BYTES })
    try {
      for (
        let result = await this.#readIdle(framed);
        result !== undefined;
        result = await this.#readIdle(framed)
      )
        void this.#onResult(result, connection)
      await framed.close()
    } catch (err) {
      if (err instanceof WireError) {
        this.#stats.malformed++
        this.#score(connection.remotePeer.toString()).malformed++
      }
      framed.abort(err as Error)
    }
  }

  /** Next frame, or undefined at EOF or after `STREAM_IDLE_MS` without one. */
  async #readIdle<T>(framed: FramedStream<T, never>): Promise<T | undefined> {
    try {
      return await framed.read({ signal: AbortSignal.timeout(STREAM_IDLE_MS) })
    } catch (err) {
      if ((err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError') return undefined
      throw err
    }
  }

  async #onResult(result: ResultMessage, connection: Connection): Promise<void> {
    this.#stats.resultMessagesReceived++
    const entry = this.#sessions.get(result.queryId)
    if (entry !== undefined) {
      await this.#deliver(entry.session, entry.startedAt, result, connection)
      return
    }
    // Not ours: pass it on towards the asker — straight to it when connected, else to
    // whoever sent us the query. Results for queries we never saw are dropped.
    const seen = this.#seen.get(result.queryId, this.#clock.now())
    if (seen === undefined || seen.origin === undefined || result.backHops >= 16) return
    // Only answers their provider signed travel on (the asker would drop the rest). Checking here
    // stops a forgery at the first honest hop and blames the peer that sent it, not an honest
    // forwarder further down the path.
    if (!(await verifyAnswer(result))) {
      const from = connection.remotePeer.toString()
      if (from !== result.provider.peerId) {
        this.#stats.forgedDropped++
        this.#score(from).forged++
      }
      return
    }
    const onward = { ...result, backHops: result.backHops + 1 }
    if (this.#connected(seen.origin) && (await this.#trySend(seen.origin, onward))) {
      this.#stats.resultsRoutedBack++
      return
    }
    if (seen.from !== seen.origin) await this.#routeBack(result, seen.from)
  }

  async #deliver(
    session: SearchSession,
    startedAt: number,
    result: ResultMessage,
    connection: Connection,
  ): Promise<void> {
    const from = connection.remotePeer.toString()
    // A direct answer must come from the provider it names (the connection authenticates it); one
    // routed back through other nodes must carry the named provider's signature, so that no node
    // on the path can answer in someone else's name.
    const authentic = result.backHops === 0 ? result.provider.peerId === from : await verifyAnswer(result)
    if (!authentic) {
      this.#stats.forgedDropped++
      this.#score(from).forged++
      logger(
        'dropped an answer in the name of %s that %s passed on unsigned or forged',
        result.provider.peerId,
        from,
      )
      return
    }
    if (session.isFinished) return
    const peerId = result.provider.peerId
    const provider: Provider = {
      peerId,
      addrs: result.provider.addrs,
      rttMs: this.#knownRtt(peerId),
      load: result.load,
      hops: result.hops,
    }
    // Deliver now; measure the RTT in the background and update the ranking when it is in.
    session.add(result.hits, provider, this.#clock.now() - startedAt)
    if (provider.rttMs === undefined) void this.#measureRtt(peerId, result.provider.addrs, session)
  }

  #knownRtt(peerId: string): number | undefined {
    const known = this.#rtt(peerId)
    if (known !== undefined) return known
    const cached = this.#rttCache.get(peerId)
    if (cached !== undefined && this.#clock.now() - cached.at < 30_000) return cached.rttMs
    return undefined
  }

  async #measureRtt(peerId: string, addrs: string[], session: SearchSession): Promise<void> {
    if (!this.#measureRtts) return
    let pending = this.#pings.get(peerId)
    if (pending === undefined) {
      pending = (async () => {
        try {
          await this.#learnAddrs(peerId, addrs)
          for (const [attempt, timeoutMs] of PING_TIMEOUTS_MS.entries()) {
            try {
              // Pinging dials the provider if need be: the connection a download will use anyway.
              const rttMs = await this.#libp2p.services.ping.ping(peerIdFromString(peerId), {
                signal: AbortSignal.timeout(timeoutMs),
                runOnLimitedConnection: true,
              } as never)
              this.#rttCache.set(peerId, { rttMs, at: this.#clock.now() })
              return rttMs
            } catch (err) {
              logger('cannot ping provider %s (attempt %d): %s', peerId, attempt + 1, (err as Error).message)
              if (session.isFinished) return undefined
            }
          }
          return undefined
        } finally {
          this.#pings.delete(peerId)
        }
      })()
      this.#pings.set(peerId, pending)
    }
    const rttMs = await pending
    if (rttMs !== undefined) session.updateRtt(peerId, rttMs)
  }

  #send<T>(peer: PeerId, protocol: string, schema: z.ZodType<T>, message: T, max: number): Promise<void> {
    return this.#streams.send(peer, protocol, schema, message, max)
  }

  /** Direct addresses first, then relay addresses, so an asker behind NAT can still be dialled. */
  #advertisedAddrs(): string[] {
    const addrs = this.#libp2p.getMultiaddrs().map(String)
    const relayed = addrs.filter((a) => a.includes('/p2p-circuit'))
    const direct = addrs.filter((a) => !a.includes('/p2p-circuit'))
    return [...direct.slice(0, 8 - Math.min(4, relayed.length)), ...relayed.slice(0, 4)].filter(
      (a) => a.length <= 300,
    )
  }

  #score(peerId: string): PeerScore {
    let score = this.#scores.get(peerId)
    if (score === undefined) {
      score = { peerId, rateLimited: 0, malformed: 0, forged: 0 }
      this.#scores.set(peerId, score)
    }
    return score
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j], items[i]]
  }
  return items
}

/** The identity key libp2p runs with (not on its public interface; present in libp2p 3's components). */
function libp2pPrivateKey(libp2p: TuttiLibp2p): PrivateKey | undefined {
  return (libp2p as unknown as { components?: { privateKey?: PrivateKey } }).components?.privateKey
}

export function createSearch(init: SearchInit, components: SearchComponents): Search {
  return new Search(init, components)
}
