/**
 * Peers: every node this one has seen, whether it is connected, and the
 * measured round-trip time. `#/peers/<peerId>` browses that peer's shared library.
 */
import { api } from '../api.ts'
import { shortPeerId } from '../format.ts'
import { useNodeEvent } from '../node-context.tsx'
import type { PageProps } from '../pages.ts'
import { catalogHref, PeerCatalog } from '../search/Catalog.tsx'
import { usePolled } from '../use-polled.ts'

const REFRESH_MS = 5_000

const fetchPeers = (signal?: AbortSignal) => api.peers(signal)

export function PeersPage({ route, query }: PageProps) {
  if (route[0] !== undefined) return <PeerCatalog peerId={route[0]} query={query} />
  return <PeerList />
}

function PeerList() {
  // RTTs change without events; poll gently while the page is open.
  const { data, error, reload: load } = usePolled(fetchPeers, REFRESH_MS)
  const peers = data?.peers

  useNodeEvent(['peer:connected', 'peer:disconnected'], () => load())

  const connected = peers?.filter((p) => p.connected).length ?? 0
  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Peers</h1>
          <p className="muted">
            {peers === undefined ? 'Loading…' : `${connected} connected · ${peers.length} known`}
          </p>
        </div>
      </header>
      {error !== undefined && <div className="banner error">{error}</div>}
      {peers !== undefined && peers.length === 0 ? (
        <div className="empty-state">
          <p>No peers yet.</p>
          <p className="muted">
            Other Tutti nodes on your network appear here by themselves (mDNS). To reach one elsewhere, start
            with <code>--bootstrap &lt;multiaddr&gt;</code>.
          </p>
        </div>
      ) : (
        <div className="table-wrap">
          <table className="table peers">
            <thead>
              <tr>
                <th>Peer</th>
                <th>State</th>
                <th className="num">RTT</th>
                <th>Addresses</th>
                <th>Found by</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {(peers ?? []).map((peer) => (
                <tr key={peer.peerId}>
                  <td className="mono" title={peer.peerId}>
                    {shortPeerId(peer.peerId)}
                  </td>
                  <td>
                    <span className={`pill ${peer.connected ? 'ok' : 'idle'}`}>
                      {peer.connected ? 'connected' : 'seen'}
                    </span>
                  </td>
                  <td className="num">{peer.rttMs === undefined ? '–' : `${peer.rttMs.toFixed(1)} ms`}</td>
                  <td className="mono addresses">
                    {peer.addresses.length === 0 ? (
                      <span className="muted">–</span>
                    ) : (
                      peer.addresses.map((a) => <div key={a}>{a}</div>)
                    )}
                  </td>
                  <td>{peer.source ?? <span className="muted">–</span>}</td>
                  <td>
                    <a className="button small" href={catalogHref(peer.peerId)}>
                      Browse library
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}
