/**
 * Entry point. Most paths are the app (token from the #fragment, navigation,
 * pages). A few paths are standalone pages with their own credential and no
 * app around them — the party's speaker page at /speaker — and must not touch
 * the app's token (a speaker token is not the install token).
 */
import { type ComponentType, lazy, StrictMode, Suspense } from 'react'
import { createRoot } from 'react-dom/client'
import { adoptTokenFromLocation } from './api.ts'
import { App } from './app.tsx'
import './styles.css'

/** Standalone pages by path, loaded on demand so the app bundle does not carry them. */
const STANDALONE_PAGES: Record<string, () => Promise<{ default: ComponentType }>> = {
  '/speaker': () => import('./party/Speaker.tsx').then((m) => ({ default: m.Speaker })),
}

const root = document.getElementById('root')
if (root === null) throw new Error('index.html has no #root')

const standalone = STANDALONE_PAGES[window.location.pathname.replace(/\/+$/, '')]
if (standalone !== undefined) {
  const Page = lazy(standalone)
  createRoot(root).render(
    <StrictMode>
      <Suspense fallback={null}>
        <Page />
      </Suspense>
    </StrictMode>,
  )
} else {
  adoptTokenFromLocation()
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  )
}
