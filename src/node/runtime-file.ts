/**
 * `<dataDir>/node.json` tells CLI commands where the running node's API is.
 * It also keeps two nodes from sharing one data directory.
 */
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TuttiError } from '../shared/errors.ts'

export interface RuntimeInfo {
  pid: number
  apiUrl: string
  peerId: string
  startedAt: string
}

export class NodeAlreadyRunningError extends TuttiError {
  constructor(pid: number, dataDir: string) {
    super('NODE_RUNNING', `a node (pid ${pid}) is already running on ${dataDir}; stop it or use --data`, 409)
  }
}

export const runtimeFile = (dataDir: string) => join(dataDir, 'node.json')

export async function readRuntimeInfo(dataDir: string): Promise<RuntimeInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(runtimeFile(dataDir), 'utf8')) as RuntimeInfo
    return isAlive(info.pid) ? info : undefined
  } catch {
    return undefined
  }
}

export async function claimDataDir(dataDir: string): Promise<void> {
  const existing = await readRuntimeInfo(dataDir)
  if (existing !== undefined && existing.pid !== process.pid)
    throw new NodeAlreadyRunningError(existing.pid, dataDir)
}

export async function writeRuntimeInfo(dataDir: string, info: RuntimeInfo): Promise<void> {
  await writeFile(runtimeFile(dataDir), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 })
}

export async function removeRuntimeInfo(dataDir: string): Promise<void> {
  await rm(runtimeFile(dataDir), { force: true })
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
