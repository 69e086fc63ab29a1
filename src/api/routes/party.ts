/**
 * Party routes: create / join / leave, status, commands, join requests,
 * public parties, invite and speaker QR codes, and the speaker page's own
 * routes (timeline + party-clock ping), which a restricted speaker token may
 * call (see src/party/speaker-token.ts).
 *
 * The party service is an optional component: `components.party`. Until the
 * node passes it, every route answers 503.
 */
import { networkInterfaces } from 'node:os'
import { z } from 'zod'
import { submittableCommandSchema } from '../../party/schema.ts'
import type { PartyService } from '../../party/service.ts'
import { speakerLinkOrigin } from '../../party/speaker-token.ts'
import { FeatureUnavailableError } from '../errors.ts'
import { httpRoute } from '../route.ts'
import type { ApiComponents } from '../types.ts'

/** The component these routes serve from (`createPartyService` returns one). */
export type PartyApi = PartyService

function party(components: ApiComponents): PartyApi {
  const p = (components as ApiComponents & { party?: PartyApi }).party
  if (p === undefined) throw new FeatureUnavailableError('party')
  return p
}

const peerIdParams = z.object({ peerId: z.string().min(1).max(128) })

export const partyRoutes = [
  httpRoute({
    method: 'GET',
    url: '/api/party',
    handler: ({ components }) => ({ party: party(components).status() ?? null }),
  }),
  httpRoute({
    method: 'POST',
    url: '/api/party',
    schema: {
      body: z.object({
        name: z.string().trim().min(1).max(64),
        joinPolicy: z.enum(['open', 'approve']).optional(),
        permissions: z
          .object({
            mode: z.enum(['host-only', 'everyone', 'djs']),
            djs: z.array(z.string().max(128)).max(32).optional(),
          })
          .optional(),
        public: z.boolean().optional(),
      }),
    },
    handler: async ({ components, body, signal }) => {
      const p = party(components)
      const created = await p.create({ ...body, signal })
      return { ...created, inviteQrSvg: await p.qrSvg(created.invite) }
    },
  }),
  httpRoute({
    method: 'POST',
    url: '/api/party/join',
    schema: { body: z.object({ invite: z.string().min(1).max(4096) }) },
    handler: async ({ components, body, signal }) => ({
      party: await party(components).join(body.invite, { signal }),
    }),
  }),
  httpRoute({
    method: 'POST',
    url: '/api/party/leave',
    handler: async ({ components, signal }) => {
      await party(components).leave({ signal })
      return { ok: true }
    },
  }),
  httpRoute({
    method: 'POST',
    url: '/api/party/commands',
    schema: { body: z.object({ command: submittableCommandSchema }) },
    handler: async ({ components, body, signal }) => {
      const { index, result } = await party(components).command(body.command, { signal })
      return { index, result }
    },
  }),
  httpRoute({
    method: 'GET',
    url: '/api/party/requests',
    handler: ({ components }) => ({ requests: party(components).status()?.pending ?? [] }),
  }),
  httpRoute({
    method: 'POST',
    url: '/api/party/requests/:peerId/approve',
    schema: { params: peerIdParams },
    handler: async ({ components, params, signal }) =>
      party(components).command({ type: 'approve', peerId: params.peerId }, { signal }),
  }),
  httpRoute({
    method: 'POST',
    url: '/api/party/requests/:peerId/reject',
    schema: { params: peerIdParams },
    handler: async ({ components, params, signal }) =>
      party(components).command({ type: 'reject', peerId: params.peerId }, { signal }),
  }),
  httpRoute({
    method: 'GET',
    url: '/api/party/parties',
    handler: ({ components }) => ({ parties: party(components).parties() }),
  }),
  httpRoute({
    method: 'GET',
    url: '/api/party/invite',
    handler: async ({ components }) => {
      const p = party(components)
      const status = p.status()
      if (status === undefined) return { invite: null }
      return { invite: status.invite, qrSvg: await p.qrSvg(status.invite) }
    },
  }),
  httpRoute({
    method: 'POST',
    url: '/api/party/speaker-token',
    schema: { body: z.object({ origin: z.string().url().max(256).optional() }).optional() },
    handler: async ({ components, body, request }) => {
      const p = party(components)
      const token = p.issueSpeakerToken()
      // Phones in the room open the page on this node's address; the UI passes the origin it wants (LAN address).
      const bound = request.server.server.address()
      const { origin, warning } = speakerLinkOrigin({
        requested: body?.origin,
        hostHeader: request.headers.host,
        listening: typeof bound === 'object' && bound !== null ? bound.address : '127.0.0.1',
        lanAddresses: lanIPv4Addresses(),
      })
      const url = `${origin}/speaker#token=${token}`
      const qrSvg = await p.qrSvg(url)
      // `warning`: the link cannot be opened from other devices (API on loopback only); the UI and CLI show it.
      return warning === undefined ? { token, url, qrSvg } : { token, url, qrSvg, warning }
    },
  }),
  // The speaker page's routes: the timeline in force and a clock ping, nothing that changes the party.
  httpRoute({
    method: 'GET',
    url: '/api/party/speaker/state',
    handler: ({ components }) => {
      const s = party(components).status()
      if (s === undefined) return { party: null }
      return {
        party: {
          partyId: s.partyId,
          name: s.name,
          partyTime: s.partyTime,
          timeline: s.timeline,
          queue: s.queue.map((e) => ({
            entryId: e.entryId,
            cid: e.cid,
            title: e.title,
            artist: e.artist,
            durationSec: e.durationSec,
          })),
          nowPlaying: s.nowPlaying,
          ended: s.ended,
        },
      }
    },
  }),
  httpRoute({
    method: 'POST',
    url: '/api/party/speaker/clock',
    schema: { body: z.object({ t0: z.number().finite() }) },
    handler: ({ components, body }) => {
      // NTP-style: the browser sends t0 (its clock), we answer t1 = t2 = party time now; it measures t3.
      const now = party(components).partyTime()
      return { t0: body.t0, t1: now, t2: now }
    },
  }),
]

/** This machine's non-internal IPv4 addresses (what a phone on the LAN can reach). */
function lanIPv4Addresses(): string[] {
  const out: string[] = []
  for (const list of Object.values(networkInterfaces()))
    for (const entry of list ?? []) if (entry.family === 'IPv4' && !entry.internal) out.push(entry.address)
  return out
}
