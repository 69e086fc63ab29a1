/**
 * Assembles the libp2p 3 node every Tutti component talks through: TCP and
 * WebSockets, noise, yamux, identify, ping, Kademlia under the Tutti prefix,
 * gossipsub, mDNS and bootstrap discovery, AutoNAT v2, circuit relay v2 and DCUtR.
 *
 * AutoNAT v2, not v1: @libp2p/autonat (v1) answers a dial-back by reusing the
 * asker's own connection and then closes it, so it never confirms an address
 * and drops its peers' connections (src/net/README.md). v2 dials back on a new
 * connection (`force`) and needs four confirmations from four network segments.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { autoNATv2 } from '@libp2p/autonat-v2'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { identify, identifyPush } from '@libp2p/identify'
import type { ConnectionGater, Libp2p, PeerDiscovery, PrivateKey } from '@libp2p/interface'
import { type KadDHT, kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { type Ping, ping } from '@libp2p/ping'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { log } from '../shared/logger.ts'
import { corkedTcp } from './corked-tcp.ts'
import { noiseCrypto } from './noise-crypto.ts'

const logger = log('net')

/** Kademlia protocol id: a Tutti-only DHT, so we never mix records with IPFS's. */
export const TUTTI_DHT_PROTOCOL = '/tutti/kad/1.0.0'
export const MDNS_SERVICE_TAG = 'tutti.local'
const LOOPBACK_NETS = ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128']
/**
 * When the DHT's first self-lookup may run (ms after start; it then waits for a
 * first DHT peer). With kad-dht's default, 1 s, it ran the moment the first
 * peer connected: that peer names everyone near us and the lookup dials them
 * all, while a starting node is usually dialing the same peers itself (a
 * download's providers, a party's members) and they are dialing it. Dials
 * crossing from both sides end up as two connections, two handshakes. In
 * bench:swarm (N = 9, fresh processes) 3 s cut most of those duplicates and took
 * the last leecher from 1.31 to 1.26 x D_min (4 interleaved pairs; 10 s did no
 * better). The cost: kad-dht holds the node's own lookups until this first one
 * has run, so a lookup made in the first 3 s after start waits (the DHT tests,
 * which look up right after start, went from ~1.2 to ~3.2 s).
 */
const DHT_FIRST_SELF_LOOKUP_MS = 3_000

export interface TuttiLibp2pOptions {
  privateKey?: PrivateKey
  /** Listen multiaddrs. Default: TCP and WebSockets on 0.0.0.0, random ports. */
  listen?: string[]
  bootstrap?: string[]
  /** mDNS discovery on the LAN. Default true. */
  mdns?: boolean
  /**
   * Keep private (LAN, loopback) addresses in DHT records. Needed on a LAN or
   * loopback; the open internet would strip them. Default true.
   */
  dhtPrivateAddresses?: boolean
  /** Offer to relay for peers behind NAT (circuit relay v2 hop), with limits. Default false. */
  relayServer?: boolean
  /**
   * Take reservations on relays we connect to (adds a `/p2p-circuit` listen address), so peers can
   * reach us through a relay while we are behind NAT. Default false.
   */
  relayClient?: boolean
  /**
   * Addresses to announce besides what we listen on: a port forward on the user's router
   * (`--announce /ip4/<public ip>/tcp/<port>`). AutoNAT still has to confirm them before
   * DCUtR dials them.
   */
  announce?: string[]
  /** Connection-manager cap. */
  maxConnections?: number
  /**
   * Dial peers as they are discovered (mDNS, DHT, bootstrap) while we have
   * fewer than this many connections; libp2p 3 no longer does it by itself.
   * These connections are the neighbours that search floods reach. Default 25.
   */
  autoDialBelow?: number
  /** Optional connection gater; simulations and benchmarks use it to pin an overlay topology. */
  connectionGater?: ConnectionGater
}

export type TuttiServices = {
  identify: ReturnType<ReturnType<typeof identify>>
  identifyPush: ReturnType<ReturnType<typeof identifyPush>>
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
  autonat: unknown
  dcutr: unknown
  relay?: unknown
}

export type TuttiLibp2p = Libp2p<TuttiServices>

export async function createTuttiLibp2p(options: TuttiLibp2pOptions = {}): Promise<TuttiLibp2p> {
  const peerDiscovery: Array<(components: never) => PeerDiscovery> = []
  if (options.mdns ?? true)
    peerDiscovery.push(mdns({ serviceTag: MDNS_SERVICE_TAG, interval: 5_000 }) as never)
  if (options.bootstrap !== undefined && options.bootstrap.length > 0) {
    peerDiscovery.push(bootstrap({ list: options.bootstrap, timeout: 100 }) as never)
  }
  const services: Record<string, unknown> = {
    identify: identify(),
    identifyPush: identifyPush(),
    ping: ping(),
    dht: kadDHT({
      protocol: TUTTI_DHT_PROTOCOL,
      clientMode: false,
      initialQuerySelfInterval: DHT_FIRST_SELF_LOOKUP_MS,
      peerInfoMapper:
        (options.dhtPrivateAddresses ?? true) ? passthroughMapper : removePrivateAddressesMapper,
    }),
    pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false }),
    autonat: autoNATv2(),
    dcutr: dcutr(),
  }
  if (options.relayServer === true) {
    services.relay = circuitRelayServer({ reservations: { maxReservations: 32 } })
  }
  const node = await createLibp2p({
    privateKey: options.privateKey,
    addresses: {
      listen: [
        ...(options.listen ?? ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws']),
        ...(options.relayClient === true ? ['/p2p-circuit'] : []),
      ],
      ...(options.announce !== undefined && options.announce.length > 0
        ? { appendAnnounce: options.announce }
        : {}),
    },
    transports: [corkedTcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [yamux()],
    peerDiscovery: peerDiscovery as never,
    connectionManager: {
      maxConnections: options.maxConnections ?? 300,
      // libp2p refuses a host's sixth inbound connection within a second (a guard against one host
      // flooding us). Every peer on this machine shares 127.0.0.1 — several nodes, tests, the
      // benchmarks — and a refused dial waits out a redial backoff. Loopback is exempt (and never
      // pruned): only local processes come from it — or remote peers, if the user tunnels a port here.
      allow: LOOPBACK_NETS,
    },
    // libp2p's keep-alive pings every connection and aborts it when one ping is late (adaptive
    // timeout, 5 s floor). On a loaded machine a busy event loop makes a live peer late, and the
    // abort dropped healthy connections (and their search neighbours). Ping less often and only
    // give up on a peer silent for 20 s or more: dead peers are still found, just not in 5 s.
    connectionMonitor: { pingInterval: 30_000, pingTimeout: { minTimeout: 20_000, maxTimeout: 60_000 } },
    ...(options.connectionGater === undefined ? {} : { connectionGater: options.connectionGater }),
    services: services as never,
  })
  const autoDialBelow = options.autoDialBelow ?? 25
  node.addEventListener('peer:discovery', (evt) => {
    const peer = evt.detail
    if (peer.id.equals(node.peerId) || node.getConnections(peer.id).length > 0) return
    if (node.getConnections().length >= autoDialBelow) return
    node.dial(peer.id, { signal: AbortSignal.timeout(10_000) }).catch((err: Error) => {
      logger('auto-dial of %p failed: %s', peer.id, err.message)
    })
  })
  return node as unknown as TuttiLibp2p
}
