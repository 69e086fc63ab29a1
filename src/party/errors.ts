/** Party errors, each with a stable code; the API maps `status` to HTTP. */
import { TuttiError } from '../shared/errors.ts'

export class NotInPartyError extends TuttiError {
  constructor(message = 'this node is not in a party') {
    super('PARTY_NONE', message, 409)
  }
}

export class AlreadyInPartyError extends TuttiError {
  constructor(message = 'this node is already in a party; leave it first') {
    super('PARTY_ALREADY', message, 409)
  }
}

export class InvalidInviteError extends TuttiError {
  constructor(message: string) {
    super('PARTY_BAD_INVITE', message, 400)
  }
}

export class JoinRefusedError extends TuttiError {
  constructor(reason: string) {
    super('PARTY_JOIN_REFUSED', `join refused: ${reason}`, 403)
  }
}

export class HostUnreachableError extends TuttiError {
  constructor(message: string, options?: ErrorOptions) {
    super('PARTY_HOST_UNREACHABLE', message, 502, options)
  }
}

/** A command the party refused (permissions, unknown entry, …); `reason` is for the user. */
export class CommandRefusedError extends TuttiError {
  readonly refusal: string
  constructor(refusal: string, reason: string) {
    super('PARTY_COMMAND_REFUSED', reason, refusal === 'forbidden' || refusal === 'not-member' ? 403 : 409)
    this.refusal = refusal
  }
}

/** No Raft leader right now (election, or this node is on the minority side of a split): the command was not run. */
export class PartyReconnectingError extends TuttiError {
  constructor(message = 'reconnecting: the party cannot commit right now') {
    super('PARTY_RECONNECTING', message, 503)
  }
}
