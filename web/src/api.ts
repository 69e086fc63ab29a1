/**
 * Typed client for the node's local API, used by every page.
 *
 * The token arrives in the URL fragment (`#token=…`, which browsers never send
 * to a server or in a Referer), is kept in sessionStorage for this tab, and is
 * removed from the address bar at once so it does not end up in screenshots,
 * bookmarks or shared links. Requests send it as a Bearer header; media
 * elements and the WebSocket, which cannot set headers, carry it as ?token=.
 */
import type { ApiEventFrame, NodeStatus, PeerInfo } from '../../src/api/types.ts'
import type { RejectedFile, Song } from '../../src/library/types.ts'

export type { ApiEventFrame, NodeStatus, PeerInfo, RejectedFile, Song }

const TOKEN_KEY = 'tutti.apiToken'

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  constructor(status: number, code: string, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }
}

/** Takes `token=` out of the fragment (`#token=X` or `#/page?token=X`), stores it, cleans the address bar. */
export function adoptTokenFromLocation(): void {
  const hash = window.location.hash.replace(/^#/, '')
  const queryStart = hash.indexOf('?')
  const [route, query] = hash.startsWith('token=')
    ? ['', hash]
    : queryStart === -1
      ? [hash, '']
      : [hash.slice(0, queryStart), hash.slice(queryStart + 1)]
  const params = new URLSearchParams(query)
  const token = params.get('token')
  if (token === null) return
  sessionStorage.setItem(TOKEN_KEY, token)
  params.delete('token')
  const rest = params.toString()
  const cleanHash = `#${route || '/library'}${rest ? `?${rest}` : ''}`
  window.history.replaceState(null, '', `${window.location.pathname}${window.location.search}${cleanHash}`)
}

export function apiToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY)
}

type Listener = () => void
const unauthorizedListeners = new Set<Listener>()

/** Called when the node answers 401 (token missing, wrong, or from another install). */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener)
  return () => unauthorizedListeners.delete(listener)
}

async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const token = apiToken()
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  })
  const text = await res.text()
  let json: unknown
  try {
    json = text === '' ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error
    if (res.status === 401) for (const listener of unauthorizedListeners) listener()
    throw new ApiError(
      res.status,
      error?.code ?? 'HTTP_ERROR',
      error?.message ?? `${res.status} ${res.statusText}`,
    )
  }
  return json as T
}

export const api = {
  get: <T>(path: string, signal?: AbortSignal) => request<T>('GET', path, undefined, signal),
  post: <T>(path: string, body: unknown = {}, signal?: AbortSignal) => request<T>('POST', path, body, signal),
  put: <T>(path: string, body: unknown = {}, signal?: AbortSignal) => request<T>('PUT', path, body, signal),
  delete: <T>(path: string, signal?: AbortSignal) => request<T>('DELETE', path, undefined, signal),

  status: (signal?: AbortSignal) => request<NodeStatus>('GET', '/api/status', undefined, signal),
  peers: (signal?: AbortSignal) => request<{ peers: PeerInfo[] }>('GET', '/api/peers', undefined, signal),
  library: (query: string, signal?: AbortSignal) =>
    request<{ songs: Song[]; total: number }>(
      'GET',
      query.trim() === '' ? '/api/library' : `/api/library?q=${encodeURIComponent(query.trim())}`,
      undefined,
      signal,
    ),
  rejected: (signal?: AbortSignal) =>
    request<{ rejected: RejectedFile[] }>('GET', '/api/library/rejected', undefined, signal),
  rescan: () => request<{ status: string }>('POST', '/api/library/rescan', {}),
}

/** URL an <audio> element can stream from (HTTP Range); the token rides in the query. */
export function songStreamUrl(cid: string): string {
  return `/api/songs/${encodeURIComponent(cid)}/stream?token=${encodeURIComponent(apiToken() ?? '')}`
}

export type ConnectionState = 'connecting' | 'live' | 'offline'

/**
 * Follows GET /api/events, reconnecting with backoff (1 s doubling to 15 s)
 * while the node restarts or the laptop sleeps. Returns a function that stops it.
 */
export function followEvents(
  onFrame: (frame: ApiEventFrame) => void,
  onState: (state: ConnectionState) => void,
): () => void {
  let socket: WebSocket | undefined
  let retryMs = 1000
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false

  const connect = () => {
    if (stopped) return
    onState('connecting')
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws'
    const url = `${scheme}://${window.location.host}/api/events?token=${encodeURIComponent(apiToken() ?? '')}`
    socket = new WebSocket(url)
    socket.onopen = () => {
      retryMs = 1000
      onState('live')
    }
    socket.onmessage = (message) => {
      try {
        onFrame(JSON.parse(String(message.data)) as ApiEventFrame)
      } catch (err) {
        console.warn('bad event frame', err)
      }
    }
    socket.onclose = () => {
      socket = undefined
      if (stopped) return
      onState('offline')
      timer = setTimeout(connect, retryMs)
      retryMs = Math.min(retryMs * 2, 15_000)
    }
  }
  connect()
  return () => {
    stopped = true
    if (timer !== undefined) clearTimeout(timer)
    socket?.close()
  }
}
