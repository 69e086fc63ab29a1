/** The local API: `createApiServer`, the token, the route table and the contracts other modules implement. */

export type { ApiRoute, HttpRoute, RouteContext, WebSocketRoute } from './route.ts'
export { httpRoute, webSocketRoute } from './route.ts'
export { STREAMED_EVENT_TYPES } from './routes/events.ts'
export { API_ROUTES } from './routes.ts'
export { type ApiServer, type ApiServerInit, createApiServer, DEFAULT_WEB_ROOT } from './server.ts'
export { API_TOKEN_FILE, loadOrCreateApiToken } from './token.ts'
export type {
  ApiComponents,
  ApiEventFrame,
  ApiEventMap,
  ApiEvents,
  EventBus,
  NodeStatus,
  NodeView,
  PeerInfo,
  PeerSource,
  SongSource,
} from './types.ts'
