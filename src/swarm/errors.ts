/** Swarm errors, each with a stable code the API and CLI map to statuses. */
import { isDiskFull, TuttiError } from '../shared/errors.ts'

export class DownloadCancelledError extends TuttiError {
  constructor(cid: string) {
    super('DOWNLOAD_CANCELLED', `download of ${cid} was cancelled`, 409)
  }
}

export class NoProvidersError extends TuttiError {
  constructor(cid: string, waitedMs?: number) {
    super(
      'NO_PROVIDERS',
      waitedMs === undefined
        ? `no peer could provide ${cid}`
        : `no peer could provide ${cid}: none found or reachable in ${Math.round(waitedMs / 1000)} s (the download keeps its verified pieces; ask again to retry)`,
      404,
    )
  }
}

/** A download of the song exists but its manifest (size, pieces) has not arrived yet: retry shortly. */
export class ManifestPendingError extends TuttiError {
  constructor(cid: string) {
    super(
      'MANIFEST_PENDING',
      `song ${cid} is being fetched but its size is not known yet; retry shortly`,
      503,
    )
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

/** The disk refused a write (full, or over quota): the download stops, keeping every piece it had stored. */
export class DiskFullError extends TuttiError {
  constructor(cid: string, path: string, cause: Error) {
    super(
      'DISK_FULL',
      `no space left to store ${cid} (${path}: ${(cause as NodeJS.ErrnoException).code ?? cause.message}); the download keeps its verified pieces — free some space and ask again to resume`,
      507,
      { cause },
    )
  }
}

/** `err` as a `DiskFullError` when the disk had no room for a write to `path`, else as it is. */
export function explainWriteError(err: unknown, cid: string, path: string): Error {
  return isDiskFull(err) ? new DiskFullError(cid, path, err as Error) : (err as Error)
}
