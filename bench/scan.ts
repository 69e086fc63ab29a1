/**
 * Library scan benchmark (`npm run bench:scan`).
 *
 * Builds a corpus of WAV files (valid headers, seeded noise as samples) in a
 * temporary folder, warms the page cache, then per round times a full library
 * scan into a fresh index (parse + hash + sqlite) against `sha256sum` over the
 * same files, and an incremental rescan of the unchanged library. Prints the
 * median and spread of each, their ratio, and the idle RSS of a node (or of a
 * process that only holds the library) with the library loaded.
 * Writes bench/results/scan.json.
 *
 * Env: SCAN_BENCH_MB (default 300), SCAN_BENCH_FILES (60), SCAN_BENCH_ROUNDS (3).
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { createLibrary } from '../src/library/index.ts'
import type { LibraryEvents } from '../src/library/types.ts'
import { mulberry32 } from '../src/shared/random.ts'

const run = promisify(execFile)
const repo = resolve(import.meta.dirname, '..')

/** A process holding only the library: loads the index, scans, then idles until killed. */
async function idleChild(dataDir: string, folder: string): Promise<void> {
  const library = createLibrary({ folders: [folder], dataDir, watch: true })
  await library.start()
  process.stdout.write(`ready ${library.list().length}\n`)
  setInterval(() => {}, 60_000)
}

function wavHeader(dataBytes: number, title: string): Buffer {
  const info = Buffer.concat([
    Buffer.from('INFO'),
    infoChunk('INAM', title),
    infoChunk('IART', 'Bench'),
    infoChunk('IPRD', 'Scan Corpus'),
  ])
  const head = Buffer.alloc(44 + 8 + info.length)
  head.write('RIFF', 0)
  head.writeUInt32LE(head.length - 8 + dataBytes, 4)
  head.write('WAVEfmt ', 8)
  head.writeUInt32LE(16, 16)
  head.writeUInt16LE(1, 20)
  head.writeUInt16LE(2, 22)
  head.writeUInt32LE(44_100, 24)
  head.writeUInt32LE(44_100 * 4, 28)
  head.writeUInt16LE(4, 32)
  head.writeUInt16LE(16, 34)
  head.write('LIST', 36)
  head.writeUInt32LE(info.length, 40)
  info.copy(head, 44)
  head.write('data', 44 + info.length)
  head.writeUInt32LE(dataBytes, 48 + info.length)
  return head
}

function infoChunk(id: string, text: string): Buffer {
  const body = Buffer.from(`${text}\0`, 'latin1')
  const padded = body.length % 2 === 0 ? body : Buffer.concat([body, Buffer.alloc(1)])
  const head = Buffer.alloc(8)
  head.write(id, 0)
  head.writeUInt32LE(body.length, 4)
  return Buffer.concat([head, padded])
}

async function makeCorpus(dir: string, totalMb: number, files: number, seed: number): Promise<string[]> {
  const random = mulberry32(seed)
  const perFile = Math.floor((totalMb * 1024 * 1024) / files / 4) * 4
  const paths: string[] = []
  for (let i = 0; i < files; i++) {
    // Sizes vary ±25 % around the mean, like a real album.
    const dataBytes = Math.floor((perFile * (0.75 + random() * 0.5)) / 4) * 4
    const samples = new Uint32Array(dataBytes / 4)
    let x = (seed + i * 7919) >>> 0 || 1
    for (let j = 0; j < samples.length; j++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      samples[j] = x >>> 0
    }
    const path = join(dir, `track-${String(i).padStart(3, '0')}.wav`)
    await writeFile(
      path,
      Buffer.concat([wavHeader(dataBytes, `Bench Track ${i}`), Buffer.from(samples.buffer)]),
    )
    paths.push(path)
  }
  return paths
}

async function timeLibraryScan(
  folder: string,
  dataDir: string,
): Promise<LibraryEvents['scan:done'] & { wallMs: number }> {
  const library = createLibrary({ folders: [folder], dataDir })
  let done: LibraryEvents['scan:done'] | undefined
  library.on('scan:done', (d) => {
    done = d
  })
  const started = performance.now()
  await library.start()
  const wallMs = performance.now() - started
  await library.stop()
  if (done === undefined) throw new Error('scan did not finish')
  return { ...done, wallMs }
}

async function timeSha256sum(paths: string[]): Promise<number> {
  const started = performance.now()
  await run('sha256sum', paths, { maxBuffer: 16 * 1024 * 1024 })
  return performance.now() - started
}

/** OpenSSL's SHA-256 (SHA-NI where the CPU has it): the speed our own hashing (also OpenSSL, via node:crypto) can reach. */
async function timeOpensslSha256(paths: string[]): Promise<number | undefined> {
  const started = performance.now()
  try {
    await run('openssl', ['dgst', '-sha256', ...paths], { maxBuffer: 16 * 1024 * 1024 })
  } catch {
    return undefined
  }
  return performance.now() - started
}

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { median, min: sorted[0], max: sorted[sorted.length - 1], values }
}

const fmt = (s: { median: number; min: number; max: number }, digits = 1, unit = '') =>
  `${s.median.toFixed(digits)}${unit} (min ${s.min.toFixed(digits)}, max ${s.max.toFixed(digits)})`

async function vmRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const match = /VmRSS:\s+(\d+) kB/.exec(status)
  return match === null ? Number.NaN : Number(match[1]) / 1024
}

/** Spawns a process, waits until its stdout matches `ready`, lets it settle, reads its RSS, then stops it. */
async function idleRss(
  args: string[],
  ready: RegExp,
  settleMs: number,
): Promise<{ rssMb: number; output: string }> {
  const nodeBin = join(repo, 'node_modules', '.bin', 'node')
  const child = spawn(nodeBin, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => {
    output += chunk
  })
  child.stderr.on('data', (chunk) => {
    output += chunk
  })
  try {
    const deadline = performance.now() + 180_000
    while (!ready.test(output)) {
      if (child.exitCode !== null) throw new Error(`process exited early:\n${output}`)
      if (performance.now() > deadline) throw new Error(`process never became ready:\n${output}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    await new Promise((r) => setTimeout(r, settleMs))
    return { rssMb: await vmRss(child.pid as number), output }
  } finally {
    child.kill('SIGTERM')
    await new Promise((r) => {
      if (child.exitCode !== null) r(undefined)
      else child.once('exit', r)
      setTimeout(() => {
        child.kill('SIGKILL')
        r(undefined)
      }, 10_000).unref()
    })
  }
}

async function main(): Promise<void> {
  const totalMb = Number(process.env.SCAN_BENCH_MB ?? 300)
  const fileCount = Number(process.env.SCAN_BENCH_FILES ?? 60)
  const rounds = Number(process.env.SCAN_BENCH_ROUNDS ?? 3)
  const seed = 20_260_101
  const work = await mkdtemp(join(tmpdir(), 'tutti-bench-scan-'))
  try {
    const corpus = join(work, 'corpus')
    await mkdir(corpus)
    let t = performance.now()
    const paths = await makeCorpus(corpus, totalMb, fileCount, seed)
    console.log(
      `corpus: ${paths.length} WAV files, ~${totalMb} MB, seed ${seed}, built in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    )

    // Warm the page cache for both contenders (and the code paths) before timing anything.
    await timeSha256sum(paths)
    await timeLibraryScan(corpus, join(work, 'warmup-index'))

    const scanMBps: number[] = []
    const scanFilesPerSec: number[] = []
    const shaMBps: number[] = []
    const ratios: number[] = []
    const opensslMBps: number[] = []
    const opensslRatios: number[] = []
    const rescanMs: number[] = []
    let bytes = 0
    for (let round = 0; round < rounds; round++) {
      const dataDir = join(work, `index-${round}`)
      // Alternate the order so neither contender always runs on a warmer machine.
      let scan: Awaited<ReturnType<typeof timeLibraryScan>>
      let shaMs: number
      if (round % 2 === 0) {
        scan = await timeLibraryScan(corpus, dataDir)
        shaMs = await timeSha256sum(paths)
      } else {
        shaMs = await timeSha256sum(paths)
        scan = await timeLibraryScan(corpus, dataDir)
      }
      bytes = scan.bytesHashed
      const mb = bytes / (1024 * 1024)
      scanMBps.push(mb / (scan.wallMs / 1000))
      scanFilesPerSec.push(scan.hashedFiles / (scan.wallMs / 1000))
      shaMBps.push(mb / (shaMs / 1000))
      ratios.push(mb / (scan.wallMs / 1000) / (mb / (shaMs / 1000)))
      const opensslMs = await timeOpensslSha256(paths)
      if (opensslMs !== undefined) {
        opensslMBps.push(mb / (opensslMs / 1000))
        opensslRatios.push(opensslMs / scan.wallMs)
      }
      const rescan = await timeLibraryScan(corpus, dataDir)
      if (rescan.hashedFiles !== 0) throw new Error(`an unchanged rescan hashed ${rescan.hashedFiles} files`)
      rescanMs.push(rescan.wallMs)
      console.log(
        `round ${round + 1}: library ${scanMBps.at(-1)?.toFixed(0)} MB/s (${scan.hashedFiles} files in ${scan.wallMs.toFixed(0)} ms), ` +
          `sha256sum ${shaMBps.at(-1)?.toFixed(0)} MB/s, ratio ${ratios.at(-1)?.toFixed(2)}x, ` +
          `openssl ${opensslMBps.at(-1)?.toFixed(0) ?? '-'} MB/s, unchanged restart+rescan ${rescan.wallMs.toFixed(0)} ms`,
      )
    }

    // Idle RSS with the library loaded (index already built, so this is the steady state).
    t = performance.now()
    const canRunNode =
      existsSync(join(repo, 'src', 'cli', 'main.ts')) && existsSync(join(repo, 'src', 'node', 'node.ts'))
    let nodeRss: { rssMb: number; what: string } | { error: string; what: string }
    const nodeData = join(work, 'node-data')
    if (canRunNode) {
      try {
        // The same V8 flags `npm start` and bin/tutti.js give a node (package.json "tutti.nodeFlags").
        const { tutti } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
          tutti?: { nodeFlags?: string[] }
        }
        const r = await idleRss(
          [
            ...(tutti?.nodeFlags ?? []),
            'src/cli/main.ts',
            'start',
            '--data',
            nodeData,
            '--library',
            corpus,
            '--api-port',
            '0',
            '--no-mdns',
          ],
          /Web UI:/,
          // Idle means settled: the start-up scan's garbage is collected within seconds of it ending.
          20_000,
        )
        nodeRss = {
          rssMb: r.rssMb,
          what: 'full node (tutti start) with the corpus as its library, idle 20 s after start-up',
        }
      } catch (err) {
        nodeRss = { error: (err as Error).message.slice(0, 2000), what: 'full node (tutti start)' }
      }
    } else {
      nodeRss = { error: 'src/cli/main.ts is missing', what: 'full node (tutti start)' }
    }
    const libraryOnly = await idleRss(
      ['bench/scan.ts', '--idle-child', join(work, 'index-0'), corpus],
      /ready \d+/,
      3000,
    )

    const scan = stats(scanMBps)
    const sha = stats(shaMBps)
    const ratio = stats(ratios)
    console.log('')
    console.log(
      `library full scan:   ${fmt(scan, 0, ' MB/s')}  |  ${fmt(stats(scanFilesPerSec), 1, ' files/s')}`,
    )
    console.log(`sha256sum:           ${fmt(sha, 0, ' MB/s')}`)
    console.log(`ratio (same rounds): ${fmt(ratio, 2, 'x')} of sha256sum (target >= 0.8x)`)
    if (opensslMBps.length > 0) {
      console.log(
        `openssl dgst:        ${fmt(stats(opensslMBps), 0, ' MB/s')}  (library at ${fmt(stats(opensslRatios), 2, 'x')} of it)`,
      )
    }
    console.log(`unchanged rescan:    ${fmt(stats(rescanMs), 0, ' ms')} for ${paths.length} files, 0 hashed`)
    if ('rssMb' in nodeRss) console.log(`idle RSS, ${nodeRss.what}: ${nodeRss.rssMb.toFixed(1)} MB`)
    else console.log(`idle RSS of the full node: not measured (${nodeRss.error.split('\n')[0]})`)
    console.log(
      `idle RSS, process holding only the library (${paths.length} songs, watcher on): ${libraryOnly.rssMb.toFixed(1)} MB`,
    )

    const results = {
      when: new Date().toISOString(),
      corpus: { files: paths.length, bytes, seed },
      rounds,
      libraryScanMBps: scan,
      libraryScanFilesPerSec: stats(scanFilesPerSec),
      sha256sumMBps: sha,
      ratioToSha256sum: ratio,
      opensslSha256MBps: opensslMBps.length > 0 ? stats(opensslMBps) : null,
      ratioToOpenssl: opensslRatios.length > 0 ? stats(opensslRatios) : null,
      unchangedRescanMs: stats(rescanMs),
      idleRss: { node: nodeRss, libraryOnlyMb: libraryOnly.rssMb },
      rssMeasureSec: (performance.now() - t) / 1000,
    }
    const out = join(repo, 'bench', 'results', 'scan.json')
    await mkdir(dirname(out), { recursive: true })
    await writeFile(out, `${JSON.stringify(results, null, 2)}\n`)
    console.log(`wrote ${out}`)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

if (process.argv[2] === '--idle-child') await idleChild(process.argv[3], process.argv[4])
else await main()
