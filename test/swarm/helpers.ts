/** Test helpers for the swarm: songs on disk, an in-memory library, loopback nodes. */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { hashFile, type Manifest } from '../../src/library/content-id.ts'
import type { Library, LibraryEvents, Song } from '../../src/library/types.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { TypedEmitter } from '../../src/shared/events.ts'
import { createSwarm, type Swarm, type SwarmInit, type SwarmSharing } from '../../src/swarm/index.ts'
import { type ClientMessage, type ServerMessage, SWARM_PROTOCOL } from '../../src/swarm/schema.ts'
import { clientWire, type SwarmWire } from '../../src/swarm/wire.ts'

export interface TestSong {
  cid: string
  manifest: Manifest
  path: string
  bytes: Buffer
}

export async function tempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `tutti-swarm-${label}-`))
}

/** A random "song": an MP3-looking header then random bytes. */
export async function makeSong(dir: string, size: number, seed = randomBytes(4)): Promise<TestSong> {
  const bytes = Buffer.concat([
    Buffer.from('ID3'),
    seed,
    randomBytes(Math.max(0, size - 3 - seed.length)),
  ]).subarray(0, size)
  const path = join(dir, `song-${seed.toString('hex')}.mp3`)
  await writeFile(path, bytes)
  const { cid, manifest } = await hashFile(path)
  return { cid, manifest, path, bytes }
}

/** The Library contract, in memory. */
export class FakeLibrary implements Library {
  readonly songs = new Map<string, { song: Song; manifest: Manifest }>()
  readonly #events = new TypedEmitter<LibraryEvents>()
  async start() {}
  async stop() {}
  async rescan() {}
  list() {
    return [...this.songs.values()].map((s) => s.song)
  }
  get(cid: string) {
    return this.songs.get(cid)?.song
  }
  manifest(cid: string) {
    return this.songs.get(cid)?.manifest
  }
  rejected() {
    return []
  }
  add(path: string, cid: string, manifest: Manifest): Song {
    const song: Song = {
      cid,
      path,
      size: manifest.size,
      mtimeMs: 0,
      format: 'mp3',
      mime: 'audio/mpeg',
      title: cid,
      artist: '',
      album: '',
      durationSec: 0,
    }
    this.songs.set(cid, { song, manifest })
    this.#events.emit('song:added', song)
    return song
  }
  async addVerifiedFile(path: string, cid: string, manifest: Manifest) {
    return this.add(path, cid, manifest)
  }
  on<K extends keyof LibraryEvents>(type: K, listener: (payload: LibraryEvents[K]) => void) {
    return this.#events.on(type, listener)
  }
}

export interface TestNode {
  libp2p: TuttiLibp2p
  library: FakeLibrary
  swarm: Swarm
  dataDir: string
  addr: string
  stop(): Promise<void>
}

export async function startNode(
  options: { dataDir?: string; songs?: TestSong[]; swarm?: Partial<SwarmInit>; sharing?: SwarmSharing } = {},
): Promise<TestNode> {
  const dataDir = options.dataDir ?? (await tempDir('node'))
  const libp2p = await createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 })
  const library = new FakeLibrary()
  for (const s of options.songs ?? []) library.add(s.path, s.cid, s.manifest)
  const swarm = createSwarm(
    { dataDir, dht: false, ...options.swarm },
    { libp2p, library, clock: monotonicClock, sharing: options.sharing },
  )
  await swarm.start()
  return {
    libp2p,
    library,
    swarm,
    dataDir,
    addr: libp2p.getMultiaddrs()[0]!.toString(),
    async stop() {
      await swarm.stop()
      await libp2p.stop()
    },
  }
}

export async function cleanup(...dirs: string[]): Promise<void> {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
}

/** Speak the swarm protocol by hand: open a stream to `addr`, say hello for `cid`, expect the handshake. */
export async function helloByHand(
  from: Libp2p,
  addr: string,
  cid: string,
): Promise<SwarmWire<ServerMessage, ClientMessage>> {
  const wire = clientWire(await from.dialProtocol(multiaddr(addr), SWARM_PROTOCOL))
  wire.send({ t: 'hello', cid, wantManifest: false })
  assert.equal((await wire.read())?.t, 'handshake')
  return wire
}
