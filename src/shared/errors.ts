/**
 * Base of every Tutti error. Each module declares its own subclasses in its
 * `errors.ts` with a stable `code`; the API maps codes to HTTP statuses and
 * the wire protocols to error replies. Tests match on `.code`/`.name`.
 */
export class TuttiError extends Error {
  readonly code: string
  /** HTTP status the local API answers with when this error reaches it. */
  readonly status: number
  constructor(code: string, message: string, status = 500, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.status = status
  }
}

export class InvalidInputError extends TuttiError {
  constructor(message: string, options?: ErrorOptions) {
    super('INVALID_INPUT', message, 400, options)
  }
}

export class NotFoundError extends TuttiError {
  constructor(message: string) {
    super('NOT_FOUND', message, 404)
  }
}

export class AbortedError extends TuttiError {
  constructor(message = 'operation aborted') {
    super('ABORTED', message, 499)
  }
}

/** A file-system error that means the disk has no room for what we write (full, over quota, file too large). */
export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG'
}
