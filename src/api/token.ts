/**
 * The per-install API token: 32 random bytes, base64url, in `<dataDir>/api-token`
 * (mode 0600). Whoever can read that file can drive the node; nobody else can.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export const API_TOKEN_FILE = 'api-token'
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

export function generateApiToken(): string {
  return randomBytes(32).toString('base64url')
}

export async function loadOrCreateApiToken(dataDir: string): Promise<string> {
  const file = join(dataDir, API_TOKEN_FILE)
  try {
    const existing = (await readFile(file, 'utf8')).trim()
    if (TOKEN_PATTERN.test(existing)) {
      await chmod(file, 0o600) // repair looser permissions left by a copy or an editor
      return existing
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  // Missing or damaged: make a new one. `wx` would race a second node on the same
  // data dir, but the node claims its data dir before it gets here.
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const token = generateApiToken()
  await writeFile(file, `${token}\n`, { mode: 0o600 })
  await chmod(file, 0o600)
  return token
}

/** Constant-time comparison, so response timing does not leak how much of a guess was right. */
export function tokensEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}
