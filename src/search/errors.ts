/** Search, catalog and reachability errors, each with a stable code the API and the wire map. */
import { TuttiError } from '../shared/errors.ts'

export class EmptyQueryError extends TuttiError {
  constructor(message = 'a search needs some text or a title/artist/album filter') {
    super('SEARCH_EMPTY_QUERY', message, 400)
  }
}

export class CatalogRefusedError extends TuttiError {
  constructor(message = 'this peer does not share its library with you') {
    super('CATALOG_REFUSED', message, 403)
  }
}

export class PeerUnreachableError extends TuttiError {
  constructor(peerId: string, reason: string, options?: ErrorOptions) {
    super('PEER_UNREACHABLE', `cannot reach ${peerId}: ${reason}`, 502, options)
  }
}
