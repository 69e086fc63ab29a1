/** The content swarm's public surface. */

export * from './errors.ts'
export { SWARM_PROTOCOL } from './schema.ts'
export {
  createSwarm,
  DEFAULT_MAX_PEERS,
  DEFAULT_MAX_REQUESTS,
  type SwarmComponents,
  type SwarmInit,
  type SwarmSharing,
} from './swarm.ts'
export type {
  DownloadInfo,
  DownloadOptions,
  DownloadSource,
  DownloadState,
  Swarm,
  SwarmEvents,
} from './types.ts'
