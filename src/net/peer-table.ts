/**
 * Peers seen and connected, with their addresses and measured round-trip
 * times. Follows libp2p's events and pings connected peers periodically; the
 * RTTs also feed provider ranking in the swarm and search.
 */
import type { PeerId } from '@libp2p/interface'
import type { Clock } from '../shared/clock.ts'
import { TypedEmitter } from '../shared/events.ts'
import { log } from '../shared/logger.ts'
import type { TuttiLibp2p } from './libp2p.ts'

export interface PeerRecord {
  peerId: string
  addresses: string[]
  connected: boolean
  /** Smoothed round-trip time (ms), undefined until measured. */
  rttMs?: number
  firstSeen: number
  lastSeen: number
  protocols: string[]
}

export interface PeerTableEvents extends Record<string, unknown> {
  'peer:connected': PeerRecord
  'peer:disconnected': PeerRecord
  'peer:rtt': PeerRecord
}

export interface PeerTableInit {
  pingIntervalMs?: number
  /** Max peers remembered (seen but not connected are evicted oldest first). */
  maxRecords?: number
}

const logger = log('peers')

export class PeerTable extends TypedEmitter<PeerTableEvents> {
  readonly #libp2p: TuttiLibp2p
  readonly #clock: Clock
  readonly #records = new Map<string, PeerRecord>()
  readonly #pingIntervalMs: number
  readonly #maxRecords: number
  #timer: ReturnType<typeof setInterval> | undefined
  #unsubscribe: Array<() => void> = []

  constructor(init: PeerTableInit, components: { libp2p: TuttiLibp2p; clock: Clock }) {
    super()
    this.#libp2p = components.libp2p
    this.#clock = components.clock
    this.#pingIntervalMs = init.pingIntervalMs ?? 10_000
    this.#maxRecords = init.maxRecords ?? 1_000
  }

  start(): void {
    if (this.#timer !== undefined) return
    const on = <K extends string>(type: K, fn: (evt: CustomEvent) => void) => {
      this.#libp2p.addEventListener(type as never, fn as never)
      this.#unsubscribe.push(() => this.#libp2p.removeEventListener(type as never, fn as never))
    }
    on('peer:discovery', (evt) => {
      const info = evt.detail as { id: PeerId; multiaddrs: Array<{ toString(): string }> }
      this.#touch(info.id.toString(), info.multiaddrs.map(String))
    })
    on('peer:connect', (evt) => {
      const record = this.#touch((evt.detail as PeerId).toString())
      record.connected = true
      this.#refreshAddresses(record)
      this.emit('peer:connected', record)
      void this.#ping(record)
    })
    on('peer:disconnect', (evt) => {
      const record = this.#touch((evt.detail as PeerId).toString())
      record.connected = false
      this.emit('peer:disconnected', record)
    })
    on('peer:identify', (evt) => {
      const result = evt.detail as {
        peerId: PeerId
        protocols: string[]
        listenAddrs: Array<{ toString(): string }>
      }
      const record = this.#touch(result.peerId.toString(), result.listenAddrs.map(String))
      record.protocols = result.protocols
    })
    for (const connection of this.#libp2p.getConnections()) {
      const record = this.#touch(connection.remotePeer.toString())
      record.connected = true
      this.#refreshAddresses(record)
    }
    this.#timer = setInterval(() => this.#pingAll(), this.#pingIntervalMs)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    for (const unsubscribe of this.#unsubscribe) unsubscribe()
    this.#unsubscribe = []
  }

  list(): PeerRecord[] {
    return [...this.#records.values()].sort(
      (a, b) => Number(b.connected) - Number(a.connected) || b.lastSeen - a.lastSeen,
    )
  }

  get(peerId: string): PeerRecord | undefined {
    return this.#records.get(peerId)
  }

  rtt(peerId: string): number | undefined {
    return this.#records.get(peerId)?.rttMs
  }

  #touch(peerId: string, addresses?: string[]): PeerRecord {
    const now = this.#clock.now()
    let record = this.#records.get(peerId)
    if (record === undefined) {
      record = { peerId, addresses: [], connected: false, firstSeen: now, lastSeen: now, protocols: [] }
      this.#records.set(peerId, record)
      this.#evict()
    }
    record.lastSeen = now
    if (addresses !== undefined && addresses.length > 0) record.addresses = [...new Set(addresses)]
    return record
  }

  #refreshAddresses(record: PeerRecord): void {
    const addrs = this.#libp2p
      .getConnections()
      .filter((c) => c.remotePeer.toString() === record.peerId)
      .map((c) => c.remoteAddr.toString())
    record.addresses = [...new Set([...addrs, ...record.addresses])]
  }

  #evict(): void {
    if (this.#records.size <= this.#maxRecords) return
    const stale = [...this.#records.values()]
      .filter((r) => !r.connected)
      .sort((a, b) => a.lastSeen - b.lastSeen)
    for (const record of stale.slice(0, this.#records.size - this.#maxRecords))
      this.#records.delete(record.peerId)
  }

  #pingAll(): void {
    for (const record of this.#records.values()) if (record.connected) void this.#ping(record)
  }

  async #ping(record: PeerRecord): Promise<void> {
    const connection = this.#libp2p.getConnections().find((c) => c.remotePeer.toString() === record.peerId)
    if (connection === undefined) return
    try {
      const rtt = await this.#libp2p.services.ping.ping(connection.remotePeer, {
        signal: AbortSignal.timeout(5_000),
      })
      // Exponentially smoothed, like TCP's SRTT: one slow ping must not reorder providers.
      record.rttMs = record.rttMs === undefined ? rtt : 0.8 * record.rttMs + 0.2 * rtt
      this.emit('peer:rtt', record)
    } catch (err) {
      logger('ping %s failed: %s', record.peerId, (err as Error).message)
    }
  }
}
