/**
 * Is this node reachable from the internet? AutoNAT v2 asks peers in four
 * network segments to dial our public addresses back: once they have, the
 * address is verified and we are `public` (an address given with `--announce`
 * counts at once). We are `private` when the relay transport holds a
 * reservation for us and no public address is verified. Otherwise `unknown`
 * (a fresh node, or one on a LAN only).
 */
import { isLoopback, isPrivate } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { TuttiLibp2p } from '../net/libp2p.ts'

export type ReachabilityStatus = 'public' | 'private' | 'unknown'

export interface Reachability {
  status: ReachabilityStatus
  /** Circuit relay addresses we can be reached at through a relay (`.../p2p-circuit/p2p/<us>`). */
  relayAddrs: string[]
  /** Public addresses AutoNAT confirmed (or the user announced). */
  verifiedAddrs: string[]
}

interface AddressMetadata {
  multiaddr: Multiaddr
  verified: boolean
  expires: number
  type: string
}

/** libp2p keeps address verification in its (internal) address manager; read it when present. */
function addressMetadata(libp2p: TuttiLibp2p): AddressMetadata[] {
  const manager = (
    libp2p as unknown as {
      components?: { addressManager?: { getAddressesWithMetadata?: () => AddressMetadata[] } }
    }
  ).components?.addressManager
  return manager?.getAddressesWithMetadata?.() ?? []
}

export function currentReachability(libp2p: TuttiLibp2p): Reachability {
  const addrs = libp2p.getMultiaddrs().map(String)
  const relayAddrs = addrs.filter((a) => a.includes('/p2p-circuit'))
  const metadata = addressMetadata(libp2p).filter((a) => !a.multiaddr.toString().includes('/p2p-circuit'))
  const verifiedAddrs = metadata
    .filter((a) => a.verified && !isPrivateAddr(a.multiaddr))
    .map((a) => a.multiaddr.toString())
  let status: ReachabilityStatus = 'unknown'
  if (verifiedAddrs.length > 0) status = 'public'
  else if (relayAddrs.length > 0) status = 'private'
  return { status, relayAddrs, verifiedAddrs }
}

function isPrivateAddr(ma: Multiaddr): boolean {
  try {
    return isPrivate(ma) || isLoopback(ma)
  } catch {
    return true
  }
}
