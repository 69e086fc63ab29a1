/** Node routes: status and peers. */
import { httpRoute } from '../route.ts'

export const nodeRoutes = [
  httpRoute({
    method: 'GET',
    url: '/api/status',
    handler: ({ components }) => components.node.status(),
  }),
  httpRoute({
    method: 'GET',
    url: '/api/peers',
    handler: ({ components }) => ({ peers: components.node.peers() }),
  }),
]
