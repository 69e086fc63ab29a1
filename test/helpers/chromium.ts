/**
 * Real Chromium for the browser tests: Debian's build, driven by playwright-core.
 * One place for the path, the flags this machine needs, and the reason a
 * browser test is skipped (never silently passed) when it cannot run.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { type Browser, chromium } from 'playwright-core'

/** TUTTI_CHROMIUM points elsewhere (e.g. /usr/bin/chromium-browser) on machines that name it differently. */
export const CHROMIUM = process.env.TUTTI_CHROMIUM ?? '/usr/bin/chromium'
export const ROOT = resolve(import.meta.dirname, '../..')
export const SCREENSHOTS = join(ROOT, 'test-output')

/** Why the browser tests cannot run here, or undefined when they can. */
export const browserSkipReason: string | undefined = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is not installed (apt-get install chromium)`
  : !existsSync(join(ROOT, 'web/dist/index.html'))
    ? 'the web UI is not built (npm run build)'
    : undefined

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No background networking: this machine refuses outside connections, and audio must start without a gesture.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--autoplay-policy=no-user-gesture-required',
    ],
  })
}
