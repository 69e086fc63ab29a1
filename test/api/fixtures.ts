/**
 * A running API over a small on-disk library, for the API tests. The library
 * is a small in-test implementation of the `Library` interface (songs hashed
 * with the real content ids) until the library module's `createLibrary` lands.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApiServer } from '../../src/api/server.ts'
import type { ApiComponents, ApiEvents, NodeStatus, PeerInfo, SongSource } from '../../src/api/types.ts'
import { hashFile } from '../../src/library/content-id.ts'
import type { Library, LibraryEvents, RejectedFile, Song } from '../../src/library/types.ts'
import { TypedEmitter } from '../../src/shared/events.ts'

export const SECRET_TEXT = 'TOP SECRET: outside the library'

/** Deterministic pseudo-random bytes (sha256 counter stream), so range checks compare exact bytes. */
export function testBytes(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size)
  for (let offset = 0, i = 0; offset < size; i++) {
    const block = createHash('sha256').update(`${seed}:${i}`).digest()
    offset += block.copy(out, offset)
  }
  return out
}

class FakeLibrary implements Library {
  readonly songs = new Map<string, Song>()
  readonly emitter = new TypedEmitter<LibraryEvents>()
  rescans = 0
  async start() {}
  async stop() {}
  async rescan() {
    this.rescans++
    this.emitter.emit('scan:progress', { filesDone: 1, filesTotal: 1, bytesHashed: 10 })
    this.emitter.emit('scan:done', { songs: this.songs.size, rejected: 1, hashedFiles: 0, ms: 1 })
  }
  list() {
    return [...this.songs.values()]
  }
  get(cid: string) {
    return this.songs.get(cid)
  }
  manifest() {
    return undefined
  }
  rejected(): RejectedFile[] {
    return [{ path: '/music/broken.mp3', reason: 'no audio frames found' }]
  }
  async addVerifiedFile(): Promise<Song> {
    throw new Error('not used by the API tests')
  }
  on<K extends keyof LibraryEvents>(type: K, listener: (payload: LibraryEvents[K]) => void) {
    return this.emitter.on(type, listener)
  }
}

export interface TestApi {
  url: string
  port: number
  token: string
  dir: string
  library: FakeLibrary
  events: TypedEmitter<ApiEvents>
  songs: Array<Song & { bytes: Buffer }>
  /** Every read the API asked of the song source, with the signal it passed. */
  reads: Array<{ cid: string; start: number; end: number; signal: AbortSignal }>
  close(): Promise<void>
}

export async function startTestApi(options: { webRoot?: string } = {}): Promise<TestApi> {
  const dir = await mkdtemp(join(tmpdir(), 'tutti-api-'))
  const libraryDir = join(dir, 'library')
  await mkdir(libraryDir)
  await writeFile(join(dir, 'secret.txt'), SECRET_TEXT)
  const library = new FakeLibrary()
  const specs = [
    {
      file: 'one.mp3',
      title: 'Morning Light',
      artist: 'Ada',
      album: 'First',
      mime: 'audio/mpeg',
      size: 300_000,
    },
    {
      file: 'two.wav',
      title: 'Evening Tide',
      artist: 'Bela',
      album: 'Second',
      mime: 'audio/wav',
      size: 70_000,
    },
    { file: 'three.mp3', title: 'Night Drive', artist: 'Ada', album: 'Second', mime: 'audio/mpeg', size: 1 },
  ]
  const songs: TestApi['songs'] = []
  for (const spec of specs) {
    const path = join(libraryDir, spec.file)
    const bytes = testBytes(spec.size, spec.file)
    await writeFile(path, bytes)
    const { cid } = await hashFile(path)
    const song: Song = {
      cid,
      path,
      size: spec.size,
      mtimeMs: 0,
      format: spec.file.endsWith('.wav') ? 'wav' : 'mp3',
      mime: spec.mime,
      title: spec.title,
      artist: spec.artist,
      album: spec.album,
      durationSec: 10,
    }
    library.songs.set(cid, song)
    songs.push({ ...song, bytes })
  }

  const reads: TestApi['reads'] = []
  const songSource: SongSource = {
    stat: (cid) => {
      const song = library.get(cid)
      return song === undefined ? undefined : { size: song.size, mime: song.mime }
    },
    read: (cid, start, end, signal) => {
      reads.push({ cid, start, end, signal })
      const song = library.get(cid)
      if (song === undefined) throw new Error('read of a song that is not in the library')
      return createReadStream(song.path, { start, end, signal })
    },
  }
  const events = new TypedEmitter<ApiEvents>()
  const status: NodeStatus = {
    peerId: '12D3KooWTestPeer',
    addresses: ['/ip4/127.0.0.1/tcp/4001'],
    version: '0.1.0',
    uptimeSec: 1,
    connections: 1,
    songs: songs.length,
    rejected: 1,
    libraries: [libraryDir],
  }
  const peers: PeerInfo[] = [
    {
      peerId: '12D3KooWOther',
      addresses: ['/ip4/10.0.0.2/tcp/4001'],
      connected: true,
      rttMs: 3.5,
      source: 'mdns',
    },
  ]
  const components: ApiComponents = {
    library,
    songs: songSource,
    node: { status: () => status, peers: () => peers },
    events,
  }
  const token = 'test-token-0123456789abcdefghijklmnopqrstuvw'
  const api = createApiServer({ port: 0, token, webRoot: options.webRoot ?? join(dir, 'no-ui') }, components)
  const { url, port } = await api.start()
  return {
    url,
    port,
    token,
    dir,
    library,
    events,
    songs,
    reads,
    close: async () => {
      await api.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

export interface RawResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  json(): { error?: { code: string; message: string } } & Record<string, unknown>
}

/** A raw HTTP request: sends the path and headers exactly as given (fetch would normalise `..` and forbid Host). */
export function rawRequest(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks)
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: () => JSON.parse(body.toString('utf8')),
          })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

export function auth(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` }
}
