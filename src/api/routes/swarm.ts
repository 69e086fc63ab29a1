/**
 * Download routes: list, start, pause, resume, cancel. They serve from the
 * optional `components.swarm` (a `Swarm` from src/swarm); until the node
 * passes one, every route answers 503.
 */
import { z } from 'zod'
import { DownloadNotFoundError } from '../../swarm/errors.ts'
import type { Swarm } from '../../swarm/types.ts'
import { FeatureUnavailableError } from '../errors.ts'
import { httpRoute } from '../route.ts'
import type { ApiComponents } from '../types.ts'

export type SwarmApi = Swarm

function swarm(components: ApiComponents): SwarmApi {
  const s = (components as ApiComponents & { swarm?: SwarmApi }).swarm
  if (s === undefined) throw new FeatureUnavailableError('swarm')
  return s
}

const cidParams = z.object({ cid: z.string().min(1).max(200) })

export const swarmRoutes = [
  httpRoute({
    method: 'GET',
    url: '/api/downloads',
    handler: ({ components }) => ({ downloads: swarm(components).list() }),
  }),
  httpRoute({
    method: 'GET',
    url: '/api/downloads/:cid',
    schema: { params: cidParams },
    handler: ({ components, params }) => {
      const download = swarm(components).get(params.cid)
      if (download === undefined) throw new DownloadNotFoundError(params.cid)
      return { download }
    },
  }),
  httpRoute({
    method: 'POST',
    url: '/api/downloads',
    schema: {
      body: z.object({
        cid: z.string().min(1).max(200),
        /** Peer ids or /p2p/ multiaddrs to ask first (party members). */
        providers: z.array(z.string().min(1).max(400)).max(32).optional(),
      }),
    },
    handler: ({ components, body }) => ({
      download: swarm(components).startDownload(body.cid, { providers: body.providers }),
    }),
  }),
  httpRoute({
    method: 'POST',
    url: '/api/downloads/:cid/pause',
    schema: { params: cidParams },
    handler: ({ components, params }) => ({ download: swarm(components).pause(params.cid) }),
  }),
  httpRoute({
    method: 'POST',
    url: '/api/downloads/:cid/resume',
    schema: { params: cidParams },
    handler: ({ components, params }) => ({ download: swarm(components).resume(params.cid) }),
  }),
  httpRoute({
    method: 'DELETE',
    url: '/api/downloads/:cid',
    schema: { params: cidParams },
    handler: async ({ components, params }) => {
      await swarm(components).cancel(params.cid)
      return { ok: true }
    },
  }),
]
