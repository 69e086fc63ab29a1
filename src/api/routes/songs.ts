/** Song routes: metadata by content id, and the bytes with HTTP Range for <audio> streaming. */
import { Readable } from 'node:stream'
import { z } from 'zod'
import { parseCid } from '../../library/content-id.ts'
import { NotFoundError } from '../../shared/errors.ts'
import { RangeNotSatisfiableError } from '../errors.ts'
import { planRange } from '../range.ts'
import { httpRoute } from '../route.ts'

/** A song id in a URL: must parse as a Tutti CID; answered in its canonical spelling. Anything else is a 400. */
export const cidParam = z
  .string()
  .max(200)
  .transform((text, ctx) => {
    try {
      return parseCid(text).toString()
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message })
      return z.NEVER
    }
  })

const songParams = z.object({ cid: cidParam })

export const songRoutes = [
  httpRoute({
    method: 'GET',
    url: '/api/songs/:cid',
    schema: { params: songParams },
    handler: ({ components, params }) => {
      const song = components.library.get(params.cid)
      if (song === undefined) throw new NotFoundError(`song ${params.cid} is not in this node's library`)
      return song
    },
  }),
  httpRoute({
    method: 'GET',
    url: '/api/songs/:cid/stream',
    schema: { params: songParams },
    handler: ({ components, params, request, reply, signal }) => {
      const stat = components.songs.stat(params.cid)
      if (stat === undefined) throw new NotFoundError(`song ${params.cid} is not available on this node`)
      const etag = `"${params.cid}"`
      // If-Range with another validator means "the copy I have is stale": send it all.
      const ifRange = request.headers['if-range']
      const rangeHeader = ifRange === undefined || ifRange === etag ? request.headers.range : undefined
      const plan = planRange(rangeHeader, stat.size)
      reply.header('accept-ranges', 'bytes')
      reply.header('content-type', stat.mime.startsWith('audio/') ? stat.mime : 'application/octet-stream')
      reply.header('etag', etag)
      // Content-addressed: the bytes behind a CID never change.
      reply.header('cache-control', 'private, max-age=31536000, immutable')
      if (plan.kind === 'unsatisfiable') {
        reply.header('content-range', `bytes */${stat.size}`)
        throw new RangeNotSatisfiableError(String(rangeHeader), stat.size)
      }
      const start = plan.kind === 'partial' ? plan.start : 0
      const end = plan.kind === 'partial' ? plan.end : stat.size - 1
      if (plan.kind === 'partial') {
        reply.code(206)
        reply.header('content-range', `bytes ${start}-${end}/${stat.size}`)
      }
      reply.header('content-length', String(end - start + 1))
      // HEAD: an empty stream keeps our Content-Length (fastify's HEAD handling would zero it for no payload).
      if (request.method === 'HEAD' || stat.size === 0) return reply.send(Readable.from([]))
      return reply.send(Readable.from(components.songs.read(params.cid, start, end, signal)))
    },
  }),
]
