/**
 * Catalog browsing, `/tutti/catalog/1.0.0`: open another peer's shared
 * library one sorted page at a time. The serving side lists only the songs
 * its share settings let the asking peer see (paths never leave the node);
 * a peer that sees nothing gets a refusal rather than an empty library.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Library, Song } from '../library/types.ts'
import { FramedStream, WireError } from '../net/framed.ts'
import type { TuttiLibp2p } from '../net/libp2p.ts'
import { log } from '../shared/logger.ts'
import { CatalogRefusedError, PeerUnreachableError } from './errors.ts'
import { toHit } from './local-match.ts'
import {
  CATALOG_PROTOCOL,
  CatalogRequest,
  CatalogResponse,
  type CatalogSort,
  MAX_CATALOG_BYTES,
  MAX_CATALOG_PAGE,
  type SongHit,
} from './schema.ts'
import type { ShareScopeCheck } from './share.ts'

const logger = log('catalog')

export type CatalogSong = Omit<SongHit, 'score'>

export interface CatalogPage {
  total: number
  offset: number
  songs: CatalogSong[]
}

export interface BrowseOptions {
  offset?: number
  limit?: number
  sort?: CatalogSort
  descending?: boolean
  signal?: AbortSignal
}

const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true })

type SongKey = 'title' | 'artist' | 'album' | 'durationSec'

function compareBy(a: Song, b: Song, key: SongKey): number {
  // Durations are numbers (a collator would order 95.5 s before 95.25 s).
  if (key === 'durationSec') return a.durationSec - b.durationSec
  return collator.compare(a[key], b[key])
}

const SORT_KEYS: Record<CatalogSort, SongKey[]> = {
  title: ['title', 'artist', 'album'],
  artist: ['artist', 'album', 'title'],
  album: ['album', 'artist', 'title'],
  duration: ['durationSec', 'artist', 'album', 'title'],
}

/** Pure: one page of `songs` sorted by `sort` (ties broken by the other fields, then cid). */
export function catalogPage(songs: Song[], request: CatalogRequest): CatalogPage {
  const order = SORT_KEYS[request.sort]
  // One entry per content id: two copies of a file are one song to the browser.
  const seen = new Set<string>()
  const unique = songs.filter((song) => !seen.has(song.cid) && seen.add(song.cid) !== undefined)
  unique.sort((a, b) => {
    for (const key of order) {
      const c = compareBy(a, b, key)
      if (c !== 0) return request.descending ? -c : c
    }
    return a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0
  })
  return {
    total: unique.length,
    offset: request.offset,
    songs: unique.slice(request.offset, request.offset + request.limit).map((song) => {
      const { score: _score, ...rest } = toHit(song, 0)
      return rest
    }),
  }
}

export class CatalogService {
  readonly #libp2p: TuttiLibp2p
  readonly #library: Library
  readonly #shareScope: ShareScopeCheck
  #started = false

  constructor(components: { libp2p: TuttiLibp2p; library: Library; shareScope: ShareScopeCheck }) {
    this.#libp2p = components.libp2p
    this.#library = components.library
    this.#shareScope = components.shareScope
  }

  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    await this.#libp2p.handle(CATALOG_PROTOCOL, (stream, connection) => this.#serve(stream, connection), {
      maxInboundStreams: 8,
    })
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await this.#libp2p.unhandle(CATALOG_PROTOCOL).catch(() => {})
  }

  /** The songs `peerId` may see on this node, as a page. */
  localPage(peerId: string, request: CatalogRequest): CatalogPage | undefined {
    const visible = this.#library.list().filter((song) => this.#shareScope(peerId, song))
    if (visible.length === 0) return undefined
    return catalogPage(visible, request)
  }

  /** One page of `peerId`'s shared library. Throws CatalogRefusedError or PeerUnreachableError. */
  async browse(peerId: string, options: BrowseOptions = {}): Promise<CatalogPage> {
    const request: CatalogRequest = {
      offset: Math.max(0, Math.floor(options.offset ?? 0)),
      limit: Math.max(1, Math.min(MAX_CATALOG_PAGE, Math.floor(options.limit ?? 50))),
      sort: options.sort ?? 'artist',
      descending: options.descending ?? false,
    }
    const signal = options.signal ?? AbortSignal.timeout(15_000)
    let stream: Stream
    try {
      stream = await this.#libp2p.dialProtocol(peerIdFromString(peerId), CATALOG_PROTOCOL, { signal })
    } catch (err) {
      throw new PeerUnreachableError(peerId, (err as Error).message, { cause: err })
    }
    const framed = new FramedStream(stream, CatalogResponse, CatalogRequest, {
      maxMessageBytes: MAX_CATALOG_BYTES,
    })
    try {
      await framed.write(request, { signal })
      const response = await framed.read({ signal })
      await framed.close()
      if (response === undefined)
        throw new PeerUnreachableError(peerId, 'closed the catalog stream without answering')
      if (!response.ok) throw new CatalogRefusedError(response.message)
      return { total: response.total, offset: response.offset, songs: response.songs }
    } catch (err) {
      framed.abort(err as Error)
      if (err instanceof CatalogRefusedError || err instanceof PeerUnreachableError) throw err
      // A reset (e.g. a peer from before the `duration` sort), a timeout or a malformed answer:
      // the peer failed, not the caller's request.
      throw new PeerUnreachableError(peerId, (err as Error).message, { cause: err })
    }
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const asker = connection.remotePeer.toString()
    const framed = new FramedStream(stream, CatalogRequest, CatalogResponse, {
      maxMessageBytes: MAX_CATALOG_BYTES,
    })
    try {
      const signal = AbortSignal.timeout(30_000)
      const request = await framed.read({ signal })
      if (request === undefined) return void (await framed.close())
      const page = this.localPage(asker, request)
      await framed.write(
        page === undefined
          ? { ok: false, code: 'CATALOG_REFUSED', message: 'this peer shares nothing with you' }
          : { ok: true, ...page },
        { signal },
      )
      await framed.close()
    } catch (err) {
      if (err instanceof WireError) logger('malformed catalog request from %s: %s', asker, err.message)
      framed.abort(err as Error)
    }
  }
}
