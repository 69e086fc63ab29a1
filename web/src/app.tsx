/** The UI shell: token gate, navigation, hash routing, the player bar. */
import { type ReactNode, useEffect, useMemo, useState } from 'react'
import { adoptTokenFromLocation, apiToken, forgetToken, onUnauthorized } from './api.ts'
import { shortPeerId } from './format.ts'
import { NodeProvider, useNode } from './node-context.tsx'
import { LibraryPage } from './pages/library.tsx'
import { PeersPage } from './pages/peers.tsx'
import { PlaceholderPage } from './pages/placeholder.tsx'
import { StatusPage } from './pages/status.tsx'
import { discoveredPages, PAGE_SLOTS, type PageProps, type UiPage } from './pages.ts'
import { PlayerProvider } from './player.tsx'

interface NavEntry {
  id: string
  title: string
  order: number
  available: boolean
  render(props: PageProps): ReactNode
  Badge?: UiPage['badge']
}

function buildNavigation(): NavEntry[] {
  const builtIn: UiPage[] = [
    { id: 'library', title: 'Library', order: 10, Component: LibraryPage },
    { id: 'peers', title: 'Peers', order: 50, Component: PeersPage },
    { id: 'status', title: 'Status', order: 60, Component: StatusPage },
  ]
  const contributed = discoveredPages()
  const entries = new Map<string, NavEntry>()
  for (const slot of PAGE_SLOTS) {
    entries.set(slot.id, { ...slot, available: false, render: () => <PlaceholderPage slot={slot} /> })
  }
  for (const page of [...builtIn, ...contributed]) {
    const { Component } = page
    entries.set(page.id, {
      id: page.id,
      title: page.title,
      order: page.order,
      available: true,
      render: (props) => <Component {...props} />,
      Badge: page.badge,
    })
  }
  return [...entries.values()].sort((a, b) => a.order - b.order)
}

function parseHash(hash: string): { id: string; route: string[]; query: URLSearchParams } {
  const text = hash.replace(/^#\/?/, '')
  const q = text.indexOf('?')
  const path = q === -1 ? text : text.slice(0, q)
  const [id = '', ...route] = path.split('/').filter(Boolean).map(decodeURIComponent)
  return { id: id || 'library', route, query: new URLSearchParams(q === -1 ? '' : text.slice(q + 1)) }
}

function useHash(): string {
  const [hash, setHash] = useState(window.location.hash)
  useEffect(() => {
    const update = () => setHash(window.location.hash)
    window.addEventListener('hashchange', update)
    return () => window.removeEventListener('hashchange', update)
  }, [])
  return hash
}

export function App() {
  const [hasToken, setHasToken] = useState(apiToken() !== undefined)
  useEffect(() => {
    // A fresh #token=… link pasted into this tab replaces the stored token.
    const adopt = () => {
      if (!window.location.hash.includes('token=')) return
      adoptTokenFromLocation()
      setHasToken(apiToken() !== undefined)
    }
    window.addEventListener('hashchange', adopt)
    const offUnauthorized = onUnauthorized(() => {
      forgetToken()
      setHasToken(false)
    })
    return () => {
      window.removeEventListener('hashchange', adopt)
      offUnauthorized()
    }
  }, [])
  if (!hasToken) return <TokenGate />
  return (
    <NodeProvider>
      <PlayerProvider>
        <Shell />
      </PlayerProvider>
    </NodeProvider>
  )
}

function Shell() {
  const navigation = useMemo(buildNavigation, [])
  const { id, route, query } = parseHash(useHash())
  const current = navigation.find((entry) => entry.id === id) ?? navigation[0]
  return (
    <div className="layout">
      <nav className="sidebar" aria-label="Pages">
        <a className="brand" href="#/library">
          <span className="brand-mark" aria-hidden="true">
            ♪
          </span>
          Tutti
        </a>
        <ul>
          {navigation.map((entry) => (
            <li key={entry.id}>
              <a
                href={`#/${entry.id}`}
                className={`nav-link${entry.id === current.id ? ' active' : ''}${entry.available ? '' : ' unavailable'}`}
                aria-current={entry.id === current.id ? 'page' : undefined}
              >
                {entry.title}
                {entry.Badge !== undefined && <entry.Badge />}
                {!entry.available && <span className="soon">soon</span>}
              </a>
            </li>
          ))}
        </ul>
        <NodeBadge />
      </nav>
      <main className="content">{current.render({ route, query })}</main>
    </div>
  )
}

function NodeBadge() {
  const { status, connection } = useNode()
  return (
    <div className="node-badge" title={status?.peerId}>
      <span className={`dot ${connection}`} aria-hidden="true" />
      <div>
        <div className="node-badge-state">
          {connection === 'live' ? 'Connected' : connection === 'connecting' ? 'Connecting…' : 'Node offline'}
        </div>
        {status !== undefined && <div className="mono muted small">{shortPeerId(status.peerId)}</div>}
      </div>
    </div>
  )
}

function TokenGate() {
  return (
    <div className="gate">
      <div className="gate-card">
        <h1>
          <span className="brand-mark" aria-hidden="true">
            ♪
          </span>{' '}
          Tutti
        </h1>
        <p>This page needs the link your node printed when it started:</p>
        <pre>Web UI: http://127.0.0.1:7707/#token=…</pre>
        <p className="muted">
          The token in that link proves you can read this node's data directory. Run <code>tutti start</code>{' '}
          (or <code>npm start</code>) and open the link it prints.
        </p>
      </div>
    </div>
  )
}
