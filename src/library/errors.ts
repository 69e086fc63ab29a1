/** The library's typed errors; the API maps `.status`, tests match on `.code`. */
import { TuttiError } from '../shared/errors.ts'

/** A byte range outside the song (HTTP 416). */
export class SongRangeError extends TuttiError {
  constructor(message: string) {
    super('RANGE_NOT_SATISFIABLE', message, 416)
  }
}

/** A file handed to `addVerifiedFile` that does not match its manifest. */
export class SongFileMismatchError extends TuttiError {
  constructor(message: string) {
    super('SONG_FILE_MISMATCH', message, 422)
  }
}

/** The library was used before `start()` or after `stop()`. */
export class LibraryStoppedError extends TuttiError {
  constructor() {
    super('LIBRARY_STOPPED', 'the library is not running (not started yet, or stopped)', 503)
  }
}
