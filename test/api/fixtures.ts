/**
 * A running API over a real library (createLibrary) of small generated WAV
 * files plus one broken file, with a song source that reads through
 * `openSongRange` as the node does and records every read.
 */
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApiServer } from '../../src/api/server.ts'
import type { ApiComponents, ApiEvents, NodeStatus, PeerInfo, SongSource } from '../../src/api/types.ts'
import { encodeWav } from '../../src/library/demo/encode.ts'
import { createLibrary, openSongRange } from '../../src/library/index.ts'
import type { Library, Song } from '../../src/library/types.ts'
import { TypedEmitter } from '../../src/shared/events.ts'

export const SECRET_TEXT = 'TOP SECRET: outside the library'

/** Deterministic pseudo-random bytes (sha256 counter stream). */
export function testBytes(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size)
  for (let offset = 0, i = 0; offset < size; i++) {
    const block = createHash('sha256').update(`${seed}:${i}`).digest()
    offset += block.copy(out, offset)
  }
  return out
}

/** A short stereo WAV of quiet deterministic noise, tagged. */
function testWav(
  frames: number,
  seed: string,
  tags: { title: string; artist: string; album: string },
): Buffer {
  const noise = testBytes(frames * 2, seed)
  const left = new Float32Array(frames)
  const right = new Float32Array(frames)
  for (let i = 0; i < frames; i++) {
    left[i] = (noise[2 * i] - 128) / 1024
    right[i] = (noise[2 * i + 1] - 128) / 1024
  }
  return encodeWav({ sampleRate: 8000, left, right }, tags)
}

export interface TestApi {
  url: string
  port: number
  token: string
  dir: string
  library: Library
  /** How many scans finished (start-up scan included). */
  scans(): number
  events: TypedEmitter<ApiEvents>
  /** Songs sorted by title, each with the exact bytes of its file. */
  songs: Array<Song & { bytes: Buffer }>
  /** Every read the API asked of the song source, with the signal it passed. */
  reads: Array<{ cid: string; start: number; end: number; signal: AbortSignal }>
  close(): Promise<void>
}

export const TEST_TRACKS = [
  { file: 'one.wav', title: 'Morning Light', artist: 'Ada', album: 'First', frames: 75_000 },
  { file: 'two.wav', title: 'Evening Tide', artist: 'Bela', album: 'Second', frames: 17_000 },
  { file: 'three.wav', title: 'Night Drive', artist: 'Ada', album: 'Second', frames: 9_000 },
]

export async function startTestApi(options: { webRoot?: string } = {}): Promise<TestApi> {
  const dir = await mkdtemp(join(tmpdir(), 'tutti-api-'))
  const libraryDir = join(dir, 'library')
  await mkdir(libraryDir)
  await writeFile(join(dir, 'secret.txt'), SECRET_TEXT)
  for (const track of TEST_TRACKS) {
    await writeFile(join(libraryDir, track.file), testWav(track.frames, track.file, track))
  }
  await writeFile(join(libraryDir, 'broken.mp3'), testBytes(5000, 'broken'))
  const library = createLibrary({ folders: [libraryDir], dataDir: join(dir, 'data') })
  let scans = 0
  library.on('scan:done', () => scans++)
  await library.start()

  const songs: TestApi['songs'] = []
  for (const song of library.list().sort((a, b) => a.title.localeCompare(b.title))) {
    songs.push({ ...song, bytes: await readFile(song.path) })
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
      return openSongRange(song, start, end, signal)
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
  let closing: Promise<void> | undefined
  return {
    url,
    port,
    token,
    dir,
    library,
    scans: () => scans,
    events,
    songs,
    reads,
    close: () => {
      closing ??= (async () => {
        await api.stop()
        await library.stop()
        await rm(dir, { recursive: true, force: true })
      })()
      return closing
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
