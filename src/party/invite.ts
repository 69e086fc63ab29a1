/**
 * Invite links: `tutti://join/<base64url(JSON {partyId, hostPeerId, hostAddrs, secret})>`,
 * and their terminal QR code.
 */
import QRCode from 'qrcode'
import { InvalidInviteError } from './errors.ts'
import { type Invite, inviteSchema } from './schema.ts'

export const INVITE_PREFIX = 'tutti://join/'

export function encodeInvite(invite: Invite): string {
  return INVITE_PREFIX + Buffer.from(JSON.stringify(inviteSchema.parse(invite))).toString('base64url')
}

/** Accepts the full link or just its payload. */
export function decodeInvite(link: string): Invite {
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
  const parsed = inviteSchema.safeParse(raw)
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
