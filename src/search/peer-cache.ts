/**
 * Remembers the peers this node knew — connected ones and those in the DHT
 * routing table — in `<dataDir>/peers.json`, saved periodically and on stop,
 * and dials them again at start. So bootstrap nodes are a way in, not a
 * single point of failure: a restarted node rejoins through any peer it knew,
 * even when every bootstrap node is gone.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import type { TuttiLibp2p } from '../net/libp2p.ts'
import type { Clock } from '../shared/clock.ts'
import { log } from '../shared/logger.ts'

const logger = log('peer-cache')

/** Tags kad-dht puts on routing-table peers in the peer store. */
const DHT_TAGS = ['kad-peer', 'kad-close']

const CachedPeer = z.object({
  peerId: z.string().min(1).max(128),
  addrs: z.array(z.string().max(300)).max(16),
  /** Clock ms when we last had a connection to it (0 when only seen in the DHT). */
  lastConnected: z.number(),
})
export type CachedPeer = z.infer<typeof CachedPeer>

const PeerFile = z.object({
  version: z.literal(1),
  savedAt: z.number(),
  peers: z.array(CachedPeer).max(10_000),
})

export interface PeerCacheInit {
  dataDir: string
  /** Default 60 s. */
  saveIntervalMs?: number
  /** Peers kept in the file, most recently connected first. Default 200. */
  maxPeers?: number
  /** Peers dialled at start (in order, a few at a time). Default 30. */
  dialAtStart?: number
}

export class PeerCache {
  readonly #libp2p: TuttiLibp2p
  readonly #clock: Clock
  readonly #file: string
  readonly #saveIntervalMs: number
  readonly #maxPeers: number
  readonly #dialAtStart: number
  /** What we know beyond the live peer store: last-connected times survive restarts. */
  readonly #known = new Map<string, CachedPeer>()
  #timer: ReturnType<typeof setInterval> | undefined
  #rejoin: Promise<number> = Promise.resolve(0)
  readonly #onConnect = (evt: CustomEvent<PeerId>) => {
    const id = evt.detail.toString()
    const entry = this.#known.get(id) ?? { peerId: id, addrs: [], lastConnected: 0 }
    entry.lastConnected = this.#clock.now()
    this.#known.set(id, entry)
  }

  constructor(init: PeerCacheInit, components: { libp2p: TuttiLibp2p; clock: Clock }) {
    this.#libp2p = components.libp2p
    this.#clock = components.clock
    this.#file = join(init.dataDir, 'peers.json')
    this.#saveIntervalMs = init.saveIntervalMs ?? 60_000
    this.#maxPeers = init.maxPeers ?? 200
    this.#dialAtStart = init.dialAtStart ?? 30
  }

  get path(): string {
    return this.#file
  }

  /** Loads the file and starts dialling its peers in the background (see `rejoined`). */
  async start(): Promise<void> {
    if (this.#timer !== undefined) return
    const peers = await this.load()
    for (const peer of peers) this.#known.set(peer.peerId, peer)
    this.#libp2p.addEventListener('peer:connect', this.#onConnect)
    this.#timer = setInterval(
      () => void this.save().catch((err: Error) => logger('save failed: %s', err.message)),
      this.#saveIntervalMs,
    )
    this.#timer.unref()
    this.#rejoin = this.#dialAll(peers.slice(0, this.#dialAtStart))
  }

  async stop(): Promise<void> {
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#libp2p.removeEventListener('peer:connect', this.#onConnect)
    await this.save().catch((err: Error) => logger('save on stop failed: %s', err.message))
  }

  /** Resolves with how many cached peers we reconnected to at start. */
  get rejoined(): Promise<number> {
    return this.#rejoin
  }

  async load(): Promise<CachedPeer[]> {
    let text: string
    try {
      text = await readFile(this.#file, 'utf8')
    } catch {
      return []
    }
    try {
      return PeerFile.parse(JSON.parse(text)).peers
    } catch (err) {
      logger('ignoring unreadable %s: %s', this.#file, (err as Error).message)
      return []
    }
  }

  /** Writes the peers we know now (atomically: a crash mid-write leaves the old file). */
  async save(): Promise<CachedPeer[]> {
    const peers = await this.snapshot()
    await mkdir(join(this.#file, '..'), { recursive: true })
    const tmp = `${this.#file}.${process.pid}.tmp`
    await writeFile(tmp, `${JSON.stringify({ version: 1, savedAt: this.#clock.now(), peers }, null, 1)}\n`)
    await rename(tmp, this.#file)
    return peers
  }

  /** Connected peers and DHT routing-table peers with their addresses, most recently connected first. */
  async snapshot(): Promise<CachedPeer[]> {
    const self = this.#libp2p.peerId.toString()
    const now = this.#clock.now()
    const byId = new Map<string, CachedPeer>()
    for (const [id, peer] of this.#known) byId.set(id, { ...peer })
    const connected = new Set(this.#libp2p.getConnections().map((c) => c.remotePeer.toString()))
    const stored = await this.#libp2p.peerStore.all({
      filters: [(peer) => connected.has(peer.id.toString()) || DHT_TAGS.some((tag) => peer.tags.has(tag))],
    })
    for (const peer of stored) {
      const id = peer.id.toString()
      if (id === self) continue
      const addrs = peer.addresses.map((a) => a.multiaddr.toString())
      const entry = byId.get(id) ?? { peerId: id, addrs: [], lastConnected: 0 }
      entry.addrs = [...new Set([...addrs, ...entry.addrs])]
      if (connected.has(id)) entry.lastConnected = now
      byId.set(id, entry)
    }
    for (const connection of this.#libp2p.getConnections()) {
      const entry = byId.get(connection.remotePeer.toString())
      // The address we are actually connected on is the best one we have.
      if (entry !== undefined && connection.direction === 'outbound')
        entry.addrs = [...new Set([connection.remoteAddr.toString(), ...entry.addrs])]
    }
    return [...byId.values()]
      .filter((p) => p.addrs.length > 0)
      .map((p) => ({ ...p, addrs: p.addrs.filter((a) => a.length <= 300).slice(0, 16) }))
      .sort((a, b) => b.lastConnected - a.lastConnected)
      .slice(0, this.#maxPeers)
  }

  async #dialAll(peers: CachedPeer[]): Promise<number> {
    let connected = 0
    const queue = [...peers]
    const worker = async () => {
      for (let peer = queue.shift(); peer !== undefined; peer = queue.shift()) {
        if (this.#timer === undefined) return
        try {
          const id = peerIdFromString(peer.peerId)
          if (id.equals(this.#libp2p.peerId)) continue
          await this.#libp2p.peerStore.merge(id, { multiaddrs: peer.addrs.map((a) => multiaddr(a)) })
          await this.#libp2p.dial(id, { signal: AbortSignal.timeout(5_000) })
          connected++
        } catch (err) {
          logger('cached peer %s not reachable: %s', peer.peerId, (err as Error).message)
        }
      }
    }
    await Promise.all([worker(), worker(), worker(), worker()])
    logger('rejoined %d of %d cached peers', connected, peers.length)
    return connected
  }
}

export function createPeerCache(
  init: PeerCacheInit,
  components: { libp2p: TuttiLibp2p; clock: Clock },
): PeerCache {
  return new PeerCache(init, components)
}
