/**
 * Speaker tokens: a restricted credential for the speaker page. Whoever holds
 * one may open `/speaker#token=…`, read the party's timeline, ping the party
 * clock and stream the party's songs — nothing else (no commands, no library,
 * no settings). Tokens live in memory and die with the party.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'

/** API paths a speaker token opens (method + path prefix). The API guard consults `speakerTokenAllows`. */
const SPEAKER_ROUTES: ReadonlyArray<{ method: string; prefix: string }> = [
  { method: 'GET', prefix: '/api/party/speaker/state' },
  { method: 'POST', prefix: '/api/party/speaker/clock' },
  { method: 'GET', prefix: '/api/songs/' },
]

export function speakerTokenAllows(method: string, path: string): boolean {
  return SPEAKER_ROUTES.some((r) => r.method === method && path.startsWith(r.prefix))
}

export class SpeakerTokens {
  #tokens = new Set<string>()

  issue(): string {
    const token = `spk_${randomBytes(24).toString('base64url')}`
    this.#tokens.add(token)
    if (this.#tokens.size > 32) this.#tokens.delete(this.#tokens.values().next().value as string)
    return token
  }

  /** Constant-time check. */
  verify(given: string | undefined): boolean {
    if (given === undefined) return false
    const g = Buffer.from(given)
    for (const t of this.#tokens) {
      const b = Buffer.from(t)
      if (b.length === g.length && timingSafeEqual(b, g)) return true
    }
    return false
  }

  revokeAll(): void {
    this.#tokens.clear()
  }
}
