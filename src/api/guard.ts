/**
 * The API's access policy as pure functions over request facts, so the rules
 * read in one place and are tested without a server:
 *
 * - Host allowlist (127.0.0.1:port, localhost:port, [::1]:port, plus LAN
 *   addresses with --expose-lan): a page on evil.example that re-points its DNS
 *   name at 127.0.0.1 (DNS rebinding) still sends `Host: evil.example`.
 * - Origin on mutations and WebSocket upgrades: browsers always send it there,
 *   so a foreign page cannot even try. Requests without Origin (curl, the CLI)
 *   pass this check and still need the token.
 * - Token on everything under /api/: `Authorization: Bearer <token>`, or
 *   `?token=` where a browser cannot set headers (<audio src>, WebSocket).
 *   No cookie on purpose: a cookie is ambient authority the browser attaches
 *   to cross-site requests too; a token the page must put in the request
 *   itself cannot be forged by a page that does not know it.
 *   Modules may add restricted tokens (`ScopedCredential`: the party's speaker
 *   tokens open the speaker routes and song streams, nothing else).
 * - The UI shell (/, /assets/*) loads without a token: it holds no data, and
 *   the page has to load before it can read the token from its #fragment
 *   (which browsers never send to the server).
 */
import type { TuttiError } from '../shared/errors.ts'
import { BadPathError, HostNotAllowedError, OriginNotAllowedError, UnauthorizedError } from './errors.ts'
import { tokensEqual } from './token.ts'
import type { ScopedCredential } from './types.ts'

export interface AccessPolicy {
  /** Lower-case `host:port` values this node answers to. */
  allowedHosts: ReadonlySet<string>
  token: string
  /** Restricted tokens (e.g. party speaker tokens), each opening a few routes. */
  credentials?: ReadonlyArray<ScopedCredential>
}

export interface RequestFacts {
  method: string
  /** The raw request target as sent (path and query, still percent-encoded). */
  url: string
  host?: string
  origin?: string
  authorization?: string
  /** True for a WebSocket upgrade. */
  upgrade: boolean
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** `host:port` spellings for loopback plus the given extra addresses (IPv6 in brackets). */
export function allowedHostsFor(port: number, extraAddresses: string[] = []): Set<string> {
  const hosts = new Set<string>()
  for (const address of ['127.0.0.1', 'localhost', '::1', ...extraAddresses]) {
    const name = address.includes(':') ? `[${address.toLowerCase()}]` : address.toLowerCase()
    hosts.add(`${name}:${port}`)
  }
  return hosts
}

export function checkHost(facts: RequestFacts, policy: AccessPolicy): TuttiError | undefined {
  const host = facts.host?.trim().toLowerCase()
  if (host === undefined || !policy.allowedHosts.has(host)) return new HostNotAllowedError(facts.host)
  return undefined
}

export function checkOrigin(facts: RequestFacts, policy: AccessPolicy): TuttiError | undefined {
  if (SAFE_METHODS.has(facts.method) && !facts.upgrade) return undefined
  if (facts.origin === undefined) return undefined
  let hostOfOrigin: string
  try {
    const url = new URL(facts.origin)
    if (url.protocol !== 'http:') return new OriginNotAllowedError(facts.origin)
    hostOfOrigin = url.host.toLowerCase()
  } catch {
    return new OriginNotAllowedError(facts.origin) // includes "null" (sandboxed frames, file://)
  }
  // `URL.host` drops default ports; our allowlist always carries one, so compare both ways.
  if (policy.allowedHosts.has(hostOfOrigin) || policy.allowedHosts.has(`${hostOfOrigin}:80`)) return undefined
  return new OriginNotAllowedError(facts.origin)
}

/** Paths under /api/ need the token; the static UI shell does not. */
export function needsToken(url: string): boolean {
  const path = pathOf(url)
  return path === '/api' || path.startsWith('/api/')
}

export function checkToken(facts: RequestFacts, policy: AccessPolicy): TuttiError | undefined {
  const given = bearerToken(facts.authorization) ?? queryToken(facts.url)
  if (given === undefined) return new UnauthorizedError()
  if (tokensEqual(given, policy.token)) return undefined
  const path = pathOf(facts.url)
  const method = facts.method === 'HEAD' ? 'GET' : facts.method
  if (policy.credentials?.some((credential) => credential.allows(given, method, path))) return undefined
  return new UnauthorizedError()
}

/**
 * Rejects `.`/`..` segments and smuggled separators however they are encoded
 * (`%2e%2e`, `%252e`, `..%2f`, `%5c`), before routing: no route has a
 * legitimate use for them, and refusing them early means no handler has to
 * think about traversal.
 */
export function checkPath(url: string): TuttiError | undefined {
  const path = pathOf(url)
  for (const raw of path.split('/').slice(1)) {
    let segment = raw
    for (let i = 0; i < 3; i++) {
      let decoded: string
      try {
        decoded = decodeURIComponent(segment)
      } catch {
        return new BadPathError('path is not valid percent-encoding')
      }
      if (decoded === segment) break
      segment = decoded
    }
    if (segment === '.' || segment === '..') return new BadPathError()
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
    if (/[\\/\u0000-\u001f]/.test(segment)) return new BadPathError()
  }
  return undefined
}

/** Every check, in the order that gives the most useful answer. */
export function checkRequest(facts: RequestFacts, policy: AccessPolicy): TuttiError | undefined {
  return (
    checkHost(facts, policy) ??
    checkPath(facts.url) ??
    checkOrigin(facts, policy) ??
    (needsToken(facts.url) ? checkToken(facts, policy) : undefined)
  )
}

function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match === null ? undefined : match[1]
}

function queryToken(url: string): string | undefined {
  const q = url.indexOf('?')
  if (q === -1) return undefined
  return new URLSearchParams(url.slice(q + 1)).get('token') ?? undefined
}
