/** Swarm errors, each with a stable code the API and CLI map to statuses. */
import { TuttiError } from '../shared/errors.ts'

export class DownloadCancelledError extends TuttiError {
  constructor(cid: string) {
    super('DOWNLOAD_CANCELLED', `download of ${cid} was cancelled`, 409)
  }
}

export class NoProvidersError extends TuttiError {
  constructor(cid: string) {
    super('NO_PROVIDERS', `no peer could provide ${cid}`, 404)
  }
}

export class DownloadNotFoundError extends TuttiError {
  constructor(cid: string) {
    super('DOWNLOAD_NOT_FOUND', `no download of ${cid}`, 404)
  }
}

export class SwarmStoppedError extends TuttiError {
  constructor() {
    super('SWARM_STOPPED', 'the swarm is not running', 503)
  }
}

export class CorruptSongError extends TuttiError {
  constructor(cid: string) {
    super('SONG_CORRUPT', `assembled song does not match ${cid}`, 500)
  }
}
