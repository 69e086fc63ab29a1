/**
 * Keeps a relay reservation while we have none. libp2p's relay transport asks
 * a relay for a reservation once, when it first meets it; if that attempt
 * fails (a loaded relay, a timeout), nothing asks again and a node behind NAT
 * stays unreachable. Every `intervalMs`, while we hold no `/p2p-circuit`
 * address, reconnect to one connected relay (a peer that speaks the hop
 * protocol), which makes the transport ask again.
 */
import type { PeerId } from '@libp2p/interface'
import { log } from '../shared/logger.ts'
import type { TuttiLibp2p } from './libp2p.ts'

const logger = log('net:relay')

export const RELAY_HOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/hop'

export interface RelayReservationKeeper {
  start(): void
  stop(): void
}

export function keepRelayReservation(
  libp2p: TuttiLibp2p,
  init: { intervalMs?: number } = {},
): RelayReservationKeeper {
  let timer: ReturnType<typeof setInterval> | undefined
  let busy = false

  const hasReservation = (): boolean =>
    libp2p.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit'))

  async function connectedRelay(): Promise<PeerId | undefined> {
    for (const connection of libp2p.getConnections()) {
      if (connection.limits !== undefined) continue
      const peer = await libp2p.peerStore.get(connection.remotePeer).catch(() => undefined)
      if (peer?.protocols.includes(RELAY_HOP_PROTOCOL) === true) return connection.remotePeer
    }
    return undefined
  }

  async function check(): Promise<void> {
    if (busy || hasReservation()) return
    busy = true
    try {
      const relay = await connectedRelay()
      if (relay === undefined) return
      logger('no relay reservation yet; reconnecting to relay %p to ask again', relay)
      await libp2p.hangUp(relay).catch(() => {})
      await libp2p.dial(relay, { signal: AbortSignal.timeout(15_000) }).catch((err: Error) => {
        logger('redial of relay %p failed: %s', relay, err.message)
      })
    } finally {
      busy = false
    }
  }

  return {
    start() {
      timer ??= setInterval(() => void check(), init.intervalMs ?? 25_000)
      timer.unref()
    },
    stop() {
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
    },
  }
}
