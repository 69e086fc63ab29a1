import { TuttiError } from '../shared/errors.ts'

/** The bytes are not a format we can decode (or a variant we do not support, e.g. Ogg Vorbis). */
export class UnsupportedAudioError extends TuttiError {
  constructor(message: string) {
    super('PLAYBACK_UNSUPPORTED_AUDIO', message, 415)
  }
}

/** The file claims a format but is broken (truncated, inconsistent header, decoder errors). */
export class CorruptAudioError extends TuttiError {
  constructor(message: string, options?: ErrorOptions) {
    super('PLAYBACK_CORRUPT_AUDIO', message, 422, options)
  }
}

/** `--output` is not `none`, `wav:FILE` or `pipe:CMD`. */
export class InvalidOutputError extends TuttiError {
  constructor(message: string) {
    super('PLAYBACK_INVALID_OUTPUT', message, 400)
  }
}
