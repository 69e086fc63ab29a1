import { logger } from '@libp2p/logger'

/** Scoped debug logger (`DEBUG=tutti:*`), the same machinery libp2p uses. */
export function log(component: string) {
  return logger(`tutti:${component}`)
}
export type Logger = ReturnType<typeof log>
