/**
 * The local HTTP/WebSocket API and the web UI's static files, on fastify.
 * This file is the shell: access checks (guard.ts) run first on every request,
 * then the routes of the table (routes.ts) with their inputs validated, and
 * every failure leaves as `{ error: { code, message } }` with a 4xx/5xx status.
 */
import { existsSync } from 'node:fs'
import { hostname, networkInterfaces } from 'node:os'
import { basename, resolve } from 'node:path'
import fastifyStatic from '@fastify/static'
import fastifyWebsocket from '@fastify/websocket'
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify'
import type { ZodType } from 'zod'
import { InvalidInputError, TuttiError } from '../shared/errors.ts'
import { log } from '../shared/logger.ts'
import { BadJsonError, FeatureUnavailableError } from './errors.ts'
import { type AccessPolicy, allowedHostsFor, checkRequest } from './guard.ts'
import type { ApiRoute, HttpRoute, WebSocketRoute } from './route.ts'
import { API_ROUTES } from './routes.ts'
import type { ApiComponents } from './types.ts'

const logger = log('api')

export interface ApiServerInit {
  /** Bind address; default 127.0.0.1, or 0.0.0.0 with `exposeLan`. */
  host?: string
  /** 0 picks a free port; `start()` says which. */
  port: number
  token: string
  /** Serve on every interface; the machine's LAN addresses join the Host allowlist. Still token-protected. */
  exposeLan?: boolean
  /** Built UI (vite build output). Default: web/dist of this checkout. */
  webRoot?: string
  /** The route table; default API_ROUTES. Tests and embedders may pass their own. */
  routes?: readonly ApiRoute[]
}

export interface ApiServer {
  start(): Promise<{ url: string; port: number }>
  stop(): Promise<void>
}

export const DEFAULT_WEB_ROOT = resolve(import.meta.dirname, '../../web/dist')
const BODY_LIMIT_BYTES = 1024 * 1024

// The UI needs: its own scripts/styles, media and fetch/WebSocket to itself,
// blob: for audio worklets, data: for QR images. Never framed (clickjacking).
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ')

export function createApiServer(init: ApiServerInit, components: ApiComponents): ApiServer {
  const bindHost = init.host ?? (init.exposeLan === true ? '0.0.0.0' : '127.0.0.1')
  const routes = init.routes ?? API_ROUTES
  const webRoot = init.webRoot ?? DEFAULT_WEB_ROOT
  const lifetime = new AbortController()
  let app: FastifyInstance | undefined
  let started: Promise<{ url: string; port: number }> | undefined
  let stopping: Promise<void> | undefined
  // Filled in once the port is known (port 0 binds a free one).
  const policy: { allowedHosts: Set<string>; token: string } = { allowedHosts: new Set(), token: init.token }

  async function build() {
    const server = Fastify({
      logger: false,
      bodyLimit: BODY_LIMIT_BYTES,
      // Long enough for any CID; the guard and the schemas reject junk anyway.
      routerOptions: { maxParamLength: 500 },
      return503OnClosing: true,
      // Streaming <audio> keeps connections open; stop() must not wait for the listener to finish a song.
      forceCloseConnections: true,
    })
    await server.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } })

    server.addHook('onRequest', async (request, reply) => {
      const rejection = checkRequest(
        {
          method: request.method,
          url: request.raw.url ?? '/',
          host: request.headers.host,
          origin: request.headers.origin,
          authorization: request.headers.authorization,
          upgrade: request.ws,
        },
        { ...policy, credentials: components.credentials } satisfies AccessPolicy,
      )
      if (rejection !== undefined) {
        logger('rejected %s %s: %s', request.method, redactToken(request.url), rejection.code)
        return sendError(reply, rejection.status, rejection.code, rejection.message)
      }
    })

    server.addHook('onSend', async (request, reply, payload) => {
      reply.header('x-content-type-options', 'nosniff')
      // The token may ride in a URL (?token=, #token=): never leak it in a Referer.
      reply.header('referrer-policy', 'no-referrer')
      reply.header('x-frame-options', 'DENY')
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
      if (request.url.startsWith('/api/') && !reply.hasHeader('cache-control'))
        reply.header('cache-control', 'no-store')
      return payload
    })

    server.setErrorHandler((error: FastifyError, request, reply) => {
      const { status, code, message } = describeError(error)
      if (status >= 500)
        logger.error('%s %s failed: %s', request.method, redactToken(request.url), error.stack)
      return sendError(reply, status, code, message)
    })

    const hasUi = existsSync(resolve(webRoot, 'index.html'))
    server.setNotFoundHandler((request, reply) => {
      // Pages with their own path (the party's /speaker) are the same single-page app.
      if (hasUi && isPagePath(request.method, request.url)) {
        return reply.header('cache-control', 'no-cache').sendFile('index.html')
      }
      const path = redactToken(request.url).split('?')[0]
      return sendError(reply, 404, 'NOT_FOUND', `no route for ${request.method} ${path}`)
    })

    for (const route of routes) {
      if (route.kind === 'websocket') addWebSocketRoute(server, route)
      else addHttpRoute(server, route)
    }

    if (hasUi) {
      await server.register(fastifyStatic, {
        root: webRoot,
        prefix: '/',
        wildcard: true,
        index: 'index.html',
        dotfiles: 'deny',
        setHeaders: (reply, path) => {
          // Vite names built assets by content hash; the HTML shell must always be re-checked.
          const immutable = path.includes(`${'/'}assets${'/'}`) && basename(path) !== 'index.html'
          reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
        },
      })
    } else {
      server.get('/', (_request, reply) =>
        reply
          .type('text/html; charset=utf-8')
          .send(
            `<!doctype html><title>Tutti</title><p>The Tutti API is running, but the web UI is not built. Run <code>npm run build</code>, then reload.</p>`,
          ),
      )
    }
    return server
  }

  function addHttpRoute(server: FastifyInstance, route: HttpRoute) {
    server.route({
      method: route.method,
      url: route.url,
      handler: async (request, reply) => {
        if (route.requires !== undefined && components[route.requires] === undefined)
          throw new FeatureUnavailableError(route.requires)
        const params = validate(route.schema?.params, request.params, 'path')
        const query = validate(route.schema?.query, withoutToken(request.query), 'query')
        const body = validate(route.schema?.body, request.body, 'body')
        const signal = requestSignal(reply)
        const result = await route.handler({ params, query, body, components, request, reply, signal })
        return reply.sent ? reply : result
      },
    })
  }

  function addWebSocketRoute(server: FastifyInstance, route: WebSocketRoute) {
    server.get(route.url, { websocket: true }, (socket, request) => {
      try {
        if (route.requires !== undefined && components[route.requires] === undefined)
          throw new FeatureUnavailableError(route.requires)
        const query = validate(route.schema?.query, withoutToken(request.query), 'query')
        const connection = new AbortController()
        const onStop = () => connection.abort()
        lifetime.signal.addEventListener('abort', onStop, { once: true })
        socket.on('close', () => {
          lifetime.signal.removeEventListener('abort', onStop)
          connection.abort()
        })
        route.handler(socket, { query, components, request, signal: connection.signal })
      } catch (err) {
        const e = err instanceof TuttiError ? err : new TuttiError('INTERNAL', 'event stream failed', 500)
        socket.close(e.status >= 500 ? 1011 : 1008, e.message.slice(0, 120))
      }
    })
  }

  /** Aborts when the client disconnects (a closed <audio> stops the disk or swarm read) or the server stops. */
  function requestSignal(reply: FastifyReply): AbortSignal {
    const controller = new AbortController()
    reply.raw.once('close', () => controller.abort())
    return AbortSignal.any([controller.signal, lifetime.signal])
  }

  async function start(): Promise<{ url: string; port: number }> {
    started ??= (async () => {
      app = await build()
      try {
        await app.listen({ host: bindHost, port: init.port })
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new TuttiError(
            'API_PORT_IN_USE',
            `port ${init.port} on ${bindHost} is taken (another Tutti node?); choose another with --api-port, or 0 for any`,
            500,
            { cause: err },
          )
        }
        throw err
      }
      const address = app.server.address()
      const port = typeof address === 'object' && address !== null ? address.port : init.port
      const extra = init.exposeLan === true ? lanNames() : []
      if (!['0.0.0.0', '::', '127.0.0.1', 'localhost', '::1'].includes(bindHost)) extra.push(bindHost)
      for (const host of allowedHostsFor(port, extra)) policy.allowedHosts.add(host)
      const url = `http://127.0.0.1:${port}`
      logger('API and web UI on %s (bound to %s)', url, bindHost)
      return { url, port }
    })()
    return started
  }

  async function stop(): Promise<void> {
    stopping ??= (async () => {
      lifetime.abort()
      await started?.catch(() => undefined)
      await app?.close()
    })()
    return stopping
  }

  return { start, stop }
}

function validate<T>(schema: ZodType<T> | undefined, value: unknown, where: string): T {
  if (schema === undefined) return value as T
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  const field = issue.path.length > 0 ? ` ${issue.path.join('.')}` : ''
  throw new InvalidInputError(`invalid ${where}${field}: ${issue.message}`)
}

function withoutToken(query: unknown): unknown {
  if (typeof query !== 'object' || query === null) return {}
  const { token: _token, ...rest } = query as Record<string, unknown>
  return rest
}

function describeError(error: FastifyError | TuttiError | Error): {
  status: number
  code: string
  message: string
} {
  if (error instanceof TuttiError) return { status: error.status, code: error.code, message: error.message }
  const fastifyError = error as FastifyError
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return describeError(new BadJsonError('request body is not valid JSON'))
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return describeError(
        new BadJsonError('Content-Type is application/json but the body is empty (send {})'),
      )
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'BODY_TOO_LARGE', message: `request body over ${BODY_LIMIT_BYTES} bytes` }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'send request bodies as application/json',
      }
  }
  const status = fastifyError.statusCode
  if (status !== undefined && status >= 400 && status < 500)
    return { status, code: fastifyError.code ?? 'BAD_REQUEST', message: fastifyError.message }
  return { status: 500, code: 'INTERNAL', message: 'internal error (see the node log with DEBUG=tutti:api)' }
}

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  reply.removeHeader('content-length')
  reply.removeHeader('etag')
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .type('application/json; charset=utf-8')
    .send({ error: { code, message } })
}

/** A GET for an app page rather than a file or an API route: `/speaker`, not `/api/x` or `/logo.png`. */
function isPagePath(method: string, url: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false
  const path = url.split('?')[0]
  if (path === '/api' || path.startsWith('/api/')) return false
  return !(path.split('/').pop() ?? '').includes('.')
}

function redactToken(url: string): string {
  return url.replace(/([?&]token=)[^&]*/g, '$1…')
}

/** Names a LAN device may use for this machine: its non-loopback addresses and host name. */
function lanNames(): string[] {
  const names = [hostname(), `${hostname()}.local`]
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) {
      if (!entry.internal && !entry.address.startsWith('fe80')) names.push(entry.address)
    }
  }
  return names
}

export type { FastifyRequest }
