/** Test helpers: libp2p nodes on loopback with a search component each, wired by explicit dials. */
import type { PeerId } from '@libp2p/interface'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { createSearch, type Search, type SearchInit } from '../../src/search/search.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'
import { FakeLibrary } from './fake-library.ts'

export interface TestNode {
  libp2p: TuttiLibp2p
  library: FakeLibrary
  search: Search
  id: string
  /** While set (`pinTopology`), connections to or from any other peer are refused. */
  pinned?: Set<string>
}

export async function startNode(
  init: SearchInit = {},
  library = new FakeLibrary(),
  load = () => 0,
): Promise<TestNode> {
  const pin: { peers?: Set<string> } = {}
  const refused = (peer: PeerId): boolean => pin.peers !== undefined && !pin.peers.has(peer.toString())
  // No discovery and no auto-dial: the tests decide the topology by dialling.
  const libp2p = await createTuttiLibp2p({
    mdns: false,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    autoDialBelow: 0,
    connectionGater: { denyDialPeer: refused, denyInboundEncryptedConnection: refused },
  })
  const search = createSearch(init, { libp2p, library, clock: monotonicClock, load })
  await search.start()
  return {
    libp2p,
    library,
    search,
    id: libp2p.peerId.toString(),
    get pinned() {
      return pin.peers
    },
    set pinned(peers) {
      pin.peers = peers
    },
  }
}

export async function connect(a: TestNode, b: TestNode): Promise<void> {
  await a.libp2p.dial(b.libp2p.getMultiaddrs()[0])
  await waitFor(
    () => b.libp2p.getConnections(a.libp2p.peerId).length > 0,
    'connection to be seen on both sides',
  )
}

/** Hang up any connection that is not an edge of the intended topology (the DHT may have added shortcuts). */
export async function enforceTopology(nodes: TestNode[], edges: Array<[number, number]>): Promise<void> {
  const allowed = new Set(
    edges.flatMap(([x, y]) => [`${nodes[x].id}>${nodes[y].id}`, `${nodes[y].id}>${nodes[x].id}`]),
  )
  for (const node of nodes) {
    for (const connection of node.libp2p.getConnections()) {
      if (!allowed.has(`${node.id}>${connection.remotePeer.toString()}`))
        await node.libp2p.hangUp(connection.remotePeer)
    }
  }
}

/**
 * `enforceTopology`, and keep it: until `unpin`, every other connection is
 * refused — the DHT's contact checks and an asker's RTT pings to providers
 * among them, which could otherwise open a shortcut in the middle of a test.
 */
export async function pinTopology(nodes: TestNode[], edges: Array<[number, number]>): Promise<void> {
  for (const node of nodes) node.pinned = new Set()
  for (const [x, y] of edges) {
    nodes[x].pinned!.add(nodes[y].id)
    nodes[y].pinned!.add(nodes[x].id)
  }
  await enforceTopology(nodes, edges)
}

export function unpin(nodes: TestNode[]): void {
  for (const node of nodes) node.pinned = undefined
}

export async function stopAll(nodes: TestNode[]): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      await n.search.stop()
      await n.libp2p.stop()
    }),
  )
}
