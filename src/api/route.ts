/**
 * What a route is. Every route of the API is one row of the table in
 * routes.ts: method, URL, the zod schemas its inputs must pass (checked at the
 * edge, before the handler runs; a failure is a 400 naming the field), and a
 * handler that gets the parsed inputs and the components.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import type { z } from 'zod'
import type { ApiComponents } from './types.ts'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface RouteSchema<P, Q, B> {
  params?: z.ZodType<P>
  query?: z.ZodType<Q>
  body?: z.ZodType<B>
}

export interface RouteContext<P, Q, B> {
  params: P
  query: Q
  body: B
  components: ApiComponents
  request: FastifyRequest
  reply: FastifyReply
  /** Aborts when the client goes away or the server stops. */
  signal: AbortSignal
}

export interface HttpRoute<P = unknown, Q = unknown, B = unknown> {
  kind: 'http'
  method: HttpMethod
  url: string
  schema?: RouteSchema<P, Q, B>
  /** An optional component (e.g. 'swarm') without which the route answers 503. */
  requires?: keyof ApiComponents
  /**
   * Returns the JSON body (status 200 unless `reply.code()` set another), or
   * sends the reply itself (streams) and returns `ctx.reply`.
   */
  handler(ctx: RouteContext<P, Q, B>): unknown
}

export interface WebSocketRoute<Q = unknown> {
  kind: 'websocket'
  method: 'GET'
  url: string
  schema?: Pick<RouteSchema<unknown, Q, unknown>, 'query'>
  requires?: keyof ApiComponents
  handler(socket: WebSocket, ctx: Omit<RouteContext<unknown, Q, unknown>, 'reply' | 'body' | 'params'>): void
}

export type ApiRoute = HttpRoute | WebSocketRoute

/** Declares an HTTP route; infers the handler's input types from its schemas. */
export function httpRoute<P = Record<string, never>, Q = Record<string, never>, B = undefined>(
  def: Omit<HttpRoute<P, Q, B>, 'kind'>,
): ApiRoute {
  return { kind: 'http', ...def } as HttpRoute as ApiRoute
}

export function webSocketRoute<Q = Record<string, never>>(def: Omit<WebSocketRoute<Q>, 'kind'>): ApiRoute {
  return { kind: 'websocket', ...def } as WebSocketRoute as ApiRoute
}
