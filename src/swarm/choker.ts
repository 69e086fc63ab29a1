/**
 * Choking: which interested peers may download from us right now. Pure.
 *
 * Regular slots go to the peers that upload to us fastest (tit-for-tat). A
 * seed (we download nothing) takes turns instead: the slots go to the peers
 * it has sent least, so its upload — the swarm's only source of pieces
 * nobody else has — reaches every leecher, not the same four (ranking a seed's
 * peers by how fast they take its upload starved the rest for seconds in
 * bench:swarm). Ties, such as every rate at zero when a swarm starts, go by
 * each peer's `tiebreak`, a random rank the caller draws once per peer: by
 * id, every node would pick the same few peers. One optimistic slot goes
 * to a peer outside that set and rotates every `OPTIMISTIC_ROTATE_MS`, so new
 * peers get a first piece to trade and we discover better partners.
 *
 * A seed serves `SEED_SLOT_FACTOR` times as many peers at once. Nothing comes
 * back to it, so it has no reason to concentrate its upload, and spread over
 * more leechers it gives more of them pieces to trade early: with 4 slots,
 * four of nine fresh leechers had waited for the next round (2 s) for their
 * first piece from the seed. In bench:swarm (N = 9) 8 slots took the fresh
 * swarm from 1.26-1.30 to 1.22-1.24 x D_min and connected members from
 * 1.13-1.15 to 1.12-1.13 (3 interleaved pairs each); 12 did no better.
 */
export const OPTIMISTIC_ROTATE_MS = 10_000
export const RECHOKE_INTERVAL_MS = 2_000
export const SEED_SLOT_FACTOR = 2

/** Regular upload slots for a node with `slots` configured, seeding or not. */
export function regularSlots(slots: number, seeding: boolean): number {
  return seeding ? slots * SEED_SLOT_FACTOR : slots
}

export interface ChokeCandidate {
  id: string
  interested: boolean
  /** Bytes/s this peer delivers to us. */
  rateFromPeer: number
  /** Bytes we have sent this peer so far. */
  sentTotal: number
  /** A random rank in [0, 1), drawn once per peer by each node. */
  tiebreak: number
}

export interface ChokeInput {
  peers: readonly ChokeCandidate[]
  /** Regular upload slots configured (0 = serve nobody); a seed uses `regularSlots`. */
  slots: number
  seeding: boolean
  optimistic: string | undefined
  /** True when it is time to move the optimistic slot on. */
  rotate: boolean
  /** A number in [0, 1) used to choose the next optimistic peer. */
  random: number
}

export interface ChokeDecision {
  unchoked: Set<string>
  optimistic: string | undefined
}

export function decideUnchoked(input: ChokeInput): ChokeDecision {
  const interested = input.peers.filter((p) => p.interested)
  if (input.slots <= 0) return { unchoked: new Set(), optimistic: undefined }
  // Higher goes first: the fastest uploader to us, or for a seed the peer it has sent least.
  const key = (p: ChokeCandidate): number => (input.seeding ? -p.sentTotal : p.rateFromPeer)
  const ranked = [...interested].sort((a, b) => key(b) - key(a) || a.tiebreak - b.tiebreak)
  const regular = ranked.slice(0, regularSlots(input.slots, input.seeding))
  const unchoked = new Set(regular.map((p) => p.id))
  const others = ranked.filter((p) => !unchoked.has(p.id))
  let optimistic = input.optimistic
  const stillValid = optimistic !== undefined && others.some((p) => p.id === optimistic)
  if (input.rotate || !stillValid) {
    // Rotating means someone new gets the slot, when there is anyone else.
    const pool = others.length > 1 ? others.filter((p) => p.id !== optimistic) : others
    optimistic =
      pool.length === 0 ? undefined : pool[Math.floor(input.random * pool.length) % pool.length]?.id
  }
  if (optimistic !== undefined) unchoked.add(optimistic)
  return { unchoked, optimistic }
}
