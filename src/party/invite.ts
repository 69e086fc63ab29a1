/**
 * Invite links: `tutti://join/<base64url(JSON {partyId, hostPeerId, hostAddrs, secret, voters?})>`,
 * and their terminal QR code. `voters` (optional, so older links still work
 * and older nodes ignore it) names a few other voters of the party: the host
 * is always one of them, so a joiner whose invited host is gone tries each.
 */
import QRCode from 'qrcode'
import { z } from 'zod'
import { InvalidInviteError } from './errors.ts'
import { inviteSchema } from './schema.ts'

export const INVITE_PREFIX = 'tutti://join/'

/** Other voters an invite names, at most this many, with at most this many addresses each. */
export const MAX_INVITE_VOTERS = 3
export const MAX_INVITE_VOTER_ADDRS = 4

export const inviteLinkSchema = inviteSchema.extend({
  voters: z
    .array(
      z.object({
        peerId: z.string().min(1).max(128),
        addrs: z.array(z.string().max(256)).max(MAX_INVITE_VOTER_ADDRS),
      }),
    )
    .max(MAX_INVITE_VOTERS)
    .optional(),
})
/** An invite with the optional voter list. */
export type InviteLink = z.infer<typeof inviteLinkSchema>

export function encodeInvite(invite: InviteLink): string {
  return INVITE_PREFIX + Buffer.from(JSON.stringify(inviteLinkSchema.parse(invite))).toString('base64url')
}

/** Accepts the full link or just its payload. */
export function decodeInvite(link: string): InviteLink {
  const trimmed = link.trim()
  const payload = trimmed.startsWith(INVITE_PREFIX) ? trimmed.slice(INVITE_PREFIX.length) : trimmed
  if (payload.length === 0 || payload.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(payload)) {
    throw new InvalidInviteError('not a Tutti invite link (expected tutti://join/…)')
  }
  let raw: unknown
  try {
    raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  } catch {
    throw new InvalidInviteError('the invite link is damaged (not decodable)')
  }
  const parsed = inviteLinkSchema.safeParse(raw)
  if (!parsed.success) throw new InvalidInviteError('the invite link is damaged (missing fields)')
  return parsed.data
}

/** The invite as a QR code drawn with terminal characters. */
export async function inviteQrTerminal(link: string): Promise<string> {
  return QRCode.toString(link, { type: 'terminal', small: true, errorCorrectionLevel: 'L' })
}

/** The QR code as an SVG string (for the web UI). */
export async function qrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' })
}
