/**
 * The piece picker: which piece to request from which peer next. Pure — it
 * takes a snapshot of what we have, what every peer has and how fast each one
 * is, and returns requests; the download shell sends them.
 *
 * Order of business:
 * 1. Critical pieces (the window just ahead of a streaming read position), in
 *    playback order, each to the peer expected to deliver it soonest.
 * 2. Rarest first for everything else (ties broken by a salted hash, so
 *    leechers starting together pick different pieces), which keeps every
 *    piece alive in the swarm and gives peers something to trade. A peer
 *    serving a critical piece gets nothing else queued behind it: an uploader
 *    serves in order, so behind a slow uplink each such piece would hold the
 *    reader's next piece up by a whole piece's transfer.
 * 3. End-game: once every missing piece is already requested, idle peers ask
 *    for the same pieces again (up to a small duplicate count); the shell
 *    cancels the losers when the first copy arrives, so one slow peer cannot
 *    hold the tail hostage.
 *
 * Peer ranking. Napster ranked sources by `latency + 10 × load`, which adds
 * milliseconds to a unitless count and ignores bandwidth. We rank by the
 * estimated time until this peer would deliver one more piece to us:
 *
 *     eta = rtt + pieceSize / throughput × (1 + queued)
 *
 * where `throughput` is what we measured from the peer (bytes/s) and `queued`
 * our requests already outstanding there. Until we have a measurement, the
 * prior is a nominal rate shared among the peer's reported active uploads
 * (`load`): a busy peer splits its upload between them. Everything is in
 * milliseconds, so a near-but-slow and a far-but-fast peer compare honestly.
 */
import { hasPiece } from './bitfield.ts'

/** Prior throughput for a peer we have not measured yet (bytes/s), shared among its uploads. */
export const PRIOR_THROUGHPUT = 1024 * 1024
export const PRIOR_RTT_MS = 50
/** How many peers may be asked for the same piece during end-game or for a critical piece. */
export const DEFAULT_DUPLICATES = 2

export interface PeerView {
  id: string
  /** The peer's have-bitfield. */
  has: Uint8Array
  /** True while the peer chokes us: it would drop our requests. */
  choked: boolean
  rttMs?: number
  /** Measured delivery rate from this peer, bytes/s. */
  throughputBps?: number
  /** The peer's reported number of active uploads. */
  load: number
  /** Our requests outstanding at this peer. */
  inFlight: number
  /** How many requests we keep outstanding at this peer (pipelining depth). */
  maxInFlight: number
}

export interface PickInput {
  pieceCount: number
  pieceSize: number
  have: Uint8Array
  /** piece → peers it is currently requested from. */
  requested: ReadonlyMap<number, ReadonlySet<string>>
  /** piece → how many connected peers have it. */
  availability: ArrayLike<number>
  /** Pieces a reader is waiting for, most urgent first. */
  critical: readonly number[]
  peers: readonly PeerView[]
  /** Remaining global request budget (max concurrent requests minus those outstanding). */
  budget: number
  /** Tie-break salt (per node), so leechers that start together diverge. */
  salt: number
  duplicates?: number
}

export interface PickedRequest {
  peer: string
  piece: number
}

/** Estimated ms until `peer` would deliver one more piece, given `queued` requests already there. */
export function estimateDeliveryMs(peer: PeerView, pieceSize: number, queued = peer.inFlight): number {
  const rtt = peer.rttMs ?? PRIOR_RTT_MS
  const throughput = peer.throughputBps ?? PRIOR_THROUGHPUT / (1 + Math.max(0, peer.load))
  return rtt + (pieceSize / Math.max(1, throughput)) * 1000 * (1 + queued)
}

/** Peers fastest-first by `estimateDeliveryMs`. */
export function rankPeers(peers: readonly PeerView[], pieceSize: number): PeerView[] {
  return [...peers].sort((a, b) => estimateDeliveryMs(a, pieceSize) - estimateDeliveryMs(b, pieceSize))
}

/**
 * Per song size and salt: every piece's tie-break rank (`mix(piece, salt)`) and
 * the pieces in rank order, computed once (a sort) and kept for the few
 * downloads a node runs at a time.
 */
interface TieTable {
  ranks: Uint32Array
  order: Uint32Array
}
const TIE_TABLES_KEPT = 8
const tieTables = new Map<string, TieTable>()
function tieTable(pieceCount: number, salt: number): TieTable {
  const key = `${salt}:${pieceCount}`
  let table = tieTables.get(key)
  if (table === undefined) {
    const ranks = new Uint32Array(pieceCount)
    for (let piece = 0; piece < pieceCount; piece++) ranks[piece] = mix(piece, salt)
    const order = new Uint32Array(pieceCount)
    for (let piece = 0; piece < pieceCount; piece++) order[piece] = piece
    order.sort((a, b) => ranks[a]! - ranks[b]! || a - b)
    table = { ranks, order }
    if (tieTables.size >= TIE_TABLES_KEPT) tieTables.delete(tieTables.keys().next().value!)
  } else tieTables.delete(key)
  tieTables.set(key, table) // most recently used last
  return table
}

function mix(piece: number, salt: number): number {
  // A cheap integer hash (xorshift-multiply) for tie-breaking.
  let x = (piece ^ salt) >>> 0
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b)
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b)
  return (x ^ (x >>> 16)) >>> 0
}

export function pickRequests(input: PickInput): PickedRequest[] {
  const out: PickedRequest[] = []
  const duplicates = input.duplicates ?? DEFAULT_DUPLICATES
  let budget = input.budget
  const queued = new Map<string, number>()
  const usable = input.peers.filter((p) => !p.choked && p.inFlight < p.maxInFlight)
  for (const p of usable) queued.set(p.id, p.inFlight)
  const holders = (piece: number): ReadonlySet<string> | undefined => input.requested.get(piece)
  const assigned = new Map<number, Set<string>>()
  const askedOf = (piece: number): number => (holders(piece)?.size ?? 0) + (assigned.get(piece)?.size ?? 0)
  const alreadyAsked = (piece: number, peer: string): boolean =>
    holders(piece)?.has(peer) === true || assigned.get(piece)?.has(peer) === true
  const free = (p: PeerView): boolean => (queued.get(p.id) ?? 0) < p.maxInFlight
  const eta = (p: PeerView): number => estimateDeliveryMs(p, input.pieceSize, queued.get(p.id) ?? 0)

  const assign = (peer: PeerView, piece: number): void => {
    out.push({ peer: peer.id, piece })
    queued.set(peer.id, (queued.get(peer.id) ?? 0) + 1)
    let set = assigned.get(piece)
    if (set === undefined) {
      set = new Set()
      assigned.set(piece, set)
    }
    set.add(peer.id)
    budget--
  }

  /** The free peer with the piece that would deliver it soonest, or undefined. */
  const fastestFor = (piece: number, within = Number.POSITIVE_INFINITY): PeerView | undefined => {
    let best: PeerView | undefined
    let bestEta = within
    for (const p of usable) {
      if (!free(p) || !hasPiece(p.has, piece) || alreadyAsked(piece, p.id)) continue
      const e = eta(p)
      if (e < bestEta) {
        best = p
        bestEta = e
      }
    }
    return best
  }

  // 1. Critical pieces, in reading order, to whoever delivers soonest.
  for (const piece of input.critical) {
    if (budget <= 0) return out
    if (hasPiece(input.have, piece) || askedOf(piece) > 0) continue
    const peer = fastestFor(piece)
    if (peer !== undefined) assign(peer, piece)
  }
  // A critical piece stuck at a slow peer: also ask a peer that would deliver it sooner.
  for (const piece of input.critical) {
    if (budget <= 0) return out
    if (hasPiece(input.have, piece) || askedOf(piece) === 0 || askedOf(piece) >= duplicates) continue
    const current = [...(holders(piece) ?? [])]
      .map((id) => input.peers.find((p) => p.id === id))
      .filter((p): p is PeerView => p !== undefined)
    const currentEta = Math.min(...current.map((p) => estimateDeliveryMs(p, input.pieceSize)))
    const peer = fastestFor(piece, currentEta / 2)
    if (peer !== undefined) assign(peer, piece)
  }

  // Peers serving a reader: only critical pieces go there (see the file comment).
  const servingReaders = new Set<string>()
  for (const piece of input.critical) {
    for (const id of holders(piece) ?? []) servingReaders.add(id)
    for (const id of assigned.get(piece) ?? []) servingReaders.add(id)
  }
  const others = usable.filter((p) => !servingReaders.has(p.id))

  // 2. Rarest first: by availability, ties by the salted rank. A count per availability, then one
  // pass in rank order placing each piece after the rarer ones, give that order without a sort:
  // a sort per pick cost ~2 ms at 16,384 pieces (a 1 GiB song) and ~10 ms at 65,536 (bench:picker).
  const ties = tieTable(input.pieceCount, input.salt)
  const tie = ties.ranks
  const order = ties.order
  const asked = new Uint8Array(input.pieceCount)
  for (const [piece, peers] of input.requested)
    if (peers.size > 0 && piece < input.pieceCount) asked[piece] = 1
  for (const piece of assigned.keys()) asked[piece] = 1
  const perLevel: number[] = [0]
  let missing = 0
  let unasked = 0
  for (let piece = 0; piece < input.pieceCount; piece++) {
    if (hasPiece(input.have, piece)) continue
    missing++
    if (asked[piece] === 1) continue
    unasked++
    const level = input.availability[piece] ?? 0
    if (level > 0) perLevel[level] = (perLevel[level] ?? 0) + 1
  }
  const next: number[] = []
  let total = 0
  for (let level = 1; level < perLevel.length; level++) {
    next[level] = total
    total += perLevel[level] ?? 0
  }
  const candidates = new Uint32Array(total)
  for (let i = 0; total > 0 && i < order.length; i++) {
    const piece = order[i]!
    const level = input.availability[piece] ?? 0
    if (level === 0 || asked[piece] === 1 || hasPiece(input.have, piece)) continue
    candidates[next[level]!++] = piece
  }
  // (Typed-array marks and a local queue count: this loop runs peers × candidates per pick.)
  const taken = new Uint8Array(input.pieceCount)
  let takenCount = 0
  for (const peer of rankPeers(others, input.pieceSize)) {
    let queuedHere = queued.get(peer.id) ?? 0
    if (queuedHere >= peer.maxInFlight) continue
    for (let i = 0; i < candidates.length; i++) {
      const piece = candidates[i]!
      if (budget <= 0) return out
      if (taken[piece] === 1 || !hasPiece(peer.has, piece)) continue
      taken[piece] = 1
      takenCount++
      assign(peer, piece)
      if (++queuedHere >= peer.maxInFlight) break
    }
  }

  // 3. End-game: nothing left unrequested, so idle peers duplicate outstanding requests.
  const unrequested = unasked - takenCount
  if (missing > 0 && unrequested === 0) {
    const outstanding: number[] = []
    for (let piece = 0; piece < input.pieceCount; piece++) {
      if (!hasPiece(input.have, piece)) outstanding.push(piece)
    }
    outstanding.sort((a, b) => askedOf(a) - askedOf(b) || tie[a]! - tie[b]!)
    const byId = new Map(input.peers.map((p) => [p.id, p]))
    // Duplicate only where it should arrive sooner than from the peer(s) already asked:
    // an extra copy that would come later is pure waste of someone's upload.
    const soonestHolder = (piece: number): number => {
      let best = Number.POSITIVE_INFINITY
      for (const id of holders(piece) ?? []) {
        const h = byId.get(id)
        if (h !== undefined) best = Math.min(best, estimateDeliveryMs(h, input.pieceSize))
      }
      return best
    }
    for (const peer of rankPeers(others, input.pieceSize)) {
      for (const piece of outstanding) {
        if (budget <= 0) return out
        if (!free(peer)) break
        if (askedOf(piece) >= duplicates || alreadyAsked(piece, peer.id) || !hasPiece(peer.has, piece))
          continue
        if (eta(peer) >= soonestHolder(piece)) continue
        assign(peer, piece)
      }
    }
  }
  return out
}

/**
 * What `pipelineDepth` knows of a peer. Every field is required, `undefined`
 * when not measured yet: with optional fields any object would do, and a
 * download's peer link (its rate lives in `delivery.bps`) was passed as is,
 * so every peer got the prior rate, 1 MiB/s, and the minimum depth.
 */
export interface PipelineEstimates {
  rttMs: number | undefined
  /** Smoothed time from request to arrival. */
  latencyMs: number | undefined
  throughputBps: number | undefined
}

/**
 * Pipelining depth for a peer (Little's law): enough requests to keep it busy
 * for one request latency at its measured rate, plus slack; bounded. The
 * latency is what a request actually takes to come back (on a busy host it is
 * far above the ping RTT), not the RTT alone — but at most `QUEUE_ALLOWANCE_MS`
 * above the RTT, and never more than `MAX_PIPELINE_LATENCY_MS`. Past that,
 * the latency is our own queue at a peer whose upload cap (shared among the
 * peers it serves) sets the pace: deeper requests there come back no sooner,
 * only later, and the song's last pieces waited seconds behind them while
 * other uploaders sat idle. Taken whole, the
 * latency fed itself: at a 2 MiB/s leecher in bench:swarm it climbed to 1–2 s
 * and the depth to 20–43.
 */
export function pipelineDepth(peer: PipelineEstimates, pieceSize: number): number {
  const rtt = peer.rttMs ?? PRIOR_RTT_MS
  const latency = Math.min(
    Math.max(peer.latencyMs ?? 0, rtt),
    rtt + QUEUE_ALLOWANCE_MS,
    MAX_PIPELINE_LATENCY_MS,
  )
  const rate = peer.throughputBps ?? PRIOR_THROUGHPUT
  const bdp = Math.ceil((rate * latency) / 1000 / pieceSize)
  return Math.max(MIN_PIPELINE, Math.min(MAX_PIPELINE, bdp + 4))
}

export const MIN_PIPELINE = 8
/** Latency above the RTT that `pipelineDepth` covers: a busy peer's processing, not a capped uplink's queue. */
export const QUEUE_ALLOWANCE_MS = 50
export const MAX_PIPELINE = 48
/**
 * Latency `pipelineDepth` counts at most, whatever the RTT. Early on the RTT
 * is the hello-to-handshake time, hundreds of ms among fresh processes on a
 * busy host; with the measured rate it made the depth at a 2 MiB/s uploader
 * 12–16, our own queue there. bench:swarm fresh N = 9, 4 interleaved pairs on
 * a loaded machine: 1.24–1.28 with the bound, 1.25–1.54 without.
 */
export const MAX_PIPELINE_LATENCY_MS = 100
