/**
 * The BitTorrent reference for bench:swarm: the same topology (one seeder,
 * N leechers, the same upload caps, downloads uncapped, all on loopback)
 * run with `aria2c` (Debian package `aria2`), the client people already
 * trust. A .torrent is built here (bencode + SHA-1 piece hashes) and a
 * minimal HTTP tracker answers announces with every other peer, so nothing
 * but loopback carries the traffic. Leechers keep seeding once complete, as
 * Tutti's do. Time = leechers started → the last one has the whole file.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { basename, join } from 'node:path'

type Bencodable = number | string | Buffer | Bencodable[] | { [key: string]: Bencodable }

export function bencode(value: Bencodable): Buffer {
  if (typeof value === 'number') return Buffer.from(`i${Math.trunc(value)}e`)
  if (typeof value === 'string') return bencode(Buffer.from(value, 'utf8'))
  if (Buffer.isBuffer(value)) return Buffer.concat([Buffer.from(`${value.length}:`), value])
  if (Array.isArray(value)) return Buffer.concat([Buffer.from('l'), ...value.map(bencode), Buffer.from('e')])
  const keys = Object.keys(value).sort()
  return Buffer.concat([
    Buffer.from('d'),
    ...keys.flatMap((k) => [bencode(k), bencode(value[k])]),
    Buffer.from('e'),
  ])
}

/** Why the reference cannot run here, or undefined when it can. */
export function aria2UnavailableReason(): string | undefined {
  const probe = spawnSync('aria2c', ['--version'], { encoding: 'utf8' })
  return probe.status === 0 ? undefined : 'aria2c not installed (Debian package aria2)'
}

async function makeTorrent(file: string, announce: string, pieceLength: number): Promise<Buffer> {
  const bytes = await readFile(file)
  const hashes: Buffer[] = []
  for (let at = 0; at < bytes.length; at += pieceLength)
    hashes.push(
      createHash('sha1')
        .update(bytes.subarray(at, at + pieceLength))
        .digest(),
    )
  return bencode({
    announce,
    info: {
      length: bytes.length,
      name: basename(file),
      'piece length': pieceLength,
      pieces: Buffer.concat(hashes),
    },
  })
}

/** A tracker that knows one torrent: every announce gets the other peers (compact form). */
async function startTracker(): Promise<{ server: Server; url: string }> {
  const peers = new Set<number>()
  const server = createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://tracker').searchParams
    const port = Number(query.get('port'))
    if (Number.isInteger(port) && port > 0) peers.add(port)
    const compact = Buffer.concat(
      [...peers].filter((p) => p !== port).map((p) => Buffer.from([127, 0, 0, 1, p >> 8, p & 0xff])),
    )
    res.end(bencode({ interval: 2, 'min interval': 1, peers: compact }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('tracker has no port')
  return { server, url: `http://127.0.0.1:${address.port}/announce` }
}

function aria2(args: string[], dir: string): ChildProcess {
  return spawn(
    'aria2c',
    [
      `--dir=${dir}`,
      '--enable-dht=false',
      '--enable-dht6=false',
      '--bt-enable-lpd=false',
      '--seed-ratio=0.0', // seed until stopped
      '--file-allocation=none',
      '--summary-interval=0',
      '--console-log-level=error',
      '--disable-ipv6=true',
      '--bt-tracker-interval=2',
      ...args,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
}

export async function runAria2Swarm(
  songPath: string,
  n: number,
  work: string,
  caps: { seedBytesPerSec: number; leechBytesPerSec: number },
): Promise<{ seconds: number }> {
  const { server, url } = await startTracker()
  const children: ChildProcess[] = []
  try {
    const torrent = join(work, 'song.torrent')
    await writeFile(torrent, await makeTorrent(songPath, url, 256 * 1024))
    const seedDir = join(work, 'seed')
    await mkdir(seedDir, { recursive: true })
    await copyFile(songPath, join(seedDir, basename(songPath)))
    const basePort = 20_000 + Math.floor(Math.random() * 20_000)
    children.push(
      aria2(
        [
          '--check-integrity=true',
          `--listen-port=${basePort}`,
          `--max-overall-upload-limit=${caps.seedBytesPerSec}`,
          torrent,
        ],
        seedDir,
      ),
    )
    await new Promise((resolve) => setTimeout(resolve, 1_500)) // the seeder has hashed its copy and announced
    const size = (await stat(songPath)).size
    const started = performance.now()
    const done: Promise<number>[] = []
    for (let i = 0; i < n; i++) {
      const dir = join(work, `leech-${i}`)
      await mkdir(dir, { recursive: true })
      const marker = join(dir, 'complete')
      const hook = join(work, `hook-${i}.sh`)
      await writeFile(hook, `#!/bin/sh\ntouch '${marker}'\n`, { mode: 0o755 })
      children.push(
        aria2(
          [
            `--listen-port=${basePort + 1 + i}`,
            `--max-overall-upload-limit=${caps.leechBytesPerSec}`,
            `--on-bt-download-complete=${hook}`,
            torrent,
          ],
          dir,
        ),
      )
      done.push(waitForFile(marker, started))
    }
    const times = await Promise.all(done)
    for (let i = 0; i < n; i++) {
      const got = await readFile(join(work, `leech-${i}`, basename(songPath)))
      if (got.length !== size)
        throw new Error(`aria2 leecher ${i} finished with ${got.length} of ${size} bytes`)
    }
    return { seconds: Math.max(...times) / 1000 }
  } finally {
    for (const c of children) c.kill('SIGKILL')
    server.close()
  }
}

async function waitForFile(path: string, since: number, timeoutMs = 300_000): Promise<number> {
  while (performance.now() - since < timeoutMs) {
    try {
      await stat(path)
      return performance.now() - since
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  throw new Error(`aria2 leecher did not finish within ${timeoutMs / 1000} s (${path})`)
}
