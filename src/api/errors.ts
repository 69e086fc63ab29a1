/** Errors the local API answers with; every one becomes `{ error: { code, message } }` with its status. */
import { TuttiError } from '../shared/errors.ts'

export class UnauthorizedError extends TuttiError {
  constructor(message = 'missing or wrong API token (send "Authorization: Bearer <token>" or ?token=)') {
    super('UNAUTHORIZED', message, 401)
  }
}

/** A `Host` header this node does not answer to: the DNS-rebinding guard. */
export class HostNotAllowedError extends TuttiError {
  constructor(host: string | undefined) {
    super('HOST_NOT_ALLOWED', `this node does not answer to Host ${JSON.stringify(host ?? '')}`, 403)
  }
}

/** A mutation or WebSocket upgrade sent by a page of another origin. */
export class OriginNotAllowedError extends TuttiError {
  constructor(origin: string) {
    super('ORIGIN_NOT_ALLOWED', `requests from origin ${JSON.stringify(origin)} are not allowed`, 403)
  }
}

export class BadPathError extends TuttiError {
  constructor(message = 'path contains "." or ".." segments, backslashes or control characters') {
    super('BAD_PATH', message, 400)
  }
}

export class BadJsonError extends TuttiError {
  constructor(message: string) {
    super('BAD_JSON', message, 400)
  }
}

export class RangeNotSatisfiableError extends TuttiError {
  readonly size: number
  constructor(range: string, size: number) {
    super('RANGE_NOT_SATISFIABLE', `range ${JSON.stringify(range)} is not satisfiable for ${size} bytes`, 416)
    this.size = size
  }
}

/** A route whose component this node does not run (yet). */
export class FeatureUnavailableError extends TuttiError {
  constructor(component: string) {
    super('FEATURE_UNAVAILABLE', `this node does not run the ${component} component`, 503)
  }
}
