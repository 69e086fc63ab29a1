/** Start real `tutti start` processes for multi-process tests, and run CLI commands against them. */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { ensureDemoLibrary } from '../../src/library/demo/generate.ts'

export const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts')

export interface NodeProcess {
  child: ChildProcess
  dataDir: string
  webUrl: string
  peerId: string
  listenAddrs: string[]
  output: string[]
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/**
 * One demo library shared by every test node (generated once, then reused):
 * generating it per node would cost seconds of CPU each time.
 */
export async function sharedDemoLibrary(): Promise<string> {
  const dir = join(tmpdir(), 'tutti-test-demo-library')
  await ensureDemoLibrary(dir)
  return dir
}

export async function tempDir(prefix = 'tutti-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

/** Spawn a node and resolve once it printed its web UI link. */
export async function startNode(
  args: string[],
  options: { dataDir?: string; env?: NodeJS.ProcessEnv; demo?: boolean } = {},
): Promise<NodeProcess> {
  const dataDir = options.dataDir ?? (await tempDir())
  const library =
    args.includes('--library') || options.demo === true ? [] : ['--library', await sharedDemoLibrary()]
  const child = spawn(
    process.execPath,
    [
      CLI,
      'start',
      '--data',
      dataDir,
      '--api-port',
      '0',
      '--no-mdns',
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      ...library,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } },
  )
  const output: string[] = []
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const ready = new Promise<{ webUrl: string; peerId: string; listenAddrs: string[] }>((resolve, reject) => {
    const listenAddrs: string[] = []
    let peerId = ''
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line)
      const id = /^Tutti node (\S+)/.exec(line)
      if (id !== null) peerId = id[1]
      const addr = /^\s+listening on (\S+)/.exec(line)
      if (addr !== null) listenAddrs.push(addr[1])
      const web = /^Web UI: (\S+)/.exec(line)
      if (web !== null) resolve({ webUrl: web[1], peerId, listenAddrs })
    })
    createInterface({ input: child.stderr! }).on('line', (line) => output.push(line))
    void exited.then((code) =>
      reject(new Error(`node exited with ${code} before it was ready:\n${output.join('\n')}`)),
    )
  })
  const info = await ready
  return {
    child,
    dataDir,
    output,
    ...info,
    stop: async (signal = 'SIGINT') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

/** Run one CLI command to completion. */
export function tutti(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** Run one CLI command without blocking this process (for a node served from the test process itself). */
export function tuttiAsync(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const status = err === null ? 0 : typeof err.code === 'number' ? err.code : null
        resolve({ status, stdout, stderr })
      },
    )
  })
}
