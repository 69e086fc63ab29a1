/**
 * The API's one table of routes, assembled from per-module files.
 *
 * To add routes for a module (say, the swarm):
 *   1. Write `src/api/routes/swarm.ts` exporting `swarmRoutes = [httpRoute({...}), ...]`
 *      (see route.ts: method, url, zod schemas for params/query/body, handler).
 *   2. If the routes need a new component, add it to `ApiComponents` in types.ts
 *      as an optional field (`swarm?: SwarmApi`) and mark each route
 *      `requires: 'swarm'`: it answers 503 until the node passes that component.
 *   3. Add `...swarmRoutes` to the list below. Events for the UI go in
 *      `ApiEventMap` (types.ts) and `STREAMED_EVENT_TYPES` (routes/events.ts).
 * Errors: throw a TuttiError subclass; its `.status` and `.code` become the reply.
 */
import type { ApiRoute } from './route.ts'
import { eventRoutes } from './routes/events.ts'
import { libraryRoutes } from './routes/library.ts'
import { nodeRoutes } from './routes/node.ts'
import { partyRoutes } from './routes/party.ts'
import { searchRoutes } from './routes/search.ts'
import { songRoutes } from './routes/songs.ts'
import { swarmRoutes } from './routes/swarm.ts'

export const API_ROUTES: readonly ApiRoute[] = [
  ...nodeRoutes,
  ...libraryRoutes,
  ...songRoutes,
  ...eventRoutes,
  ...partyRoutes,
  ...searchRoutes,
  ...swarmRoutes,
]
