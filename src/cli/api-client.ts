/** How CLI commands talk to the running node: its local API, with the per-install token. */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readRuntimeInfo } from '../node/runtime-file.ts'
import { TuttiError } from '../shared/errors.ts'

export class NodeNotRunningError extends TuttiError {
  constructor(dataDir: string) {
    super('NODE_NOT_RUNNING', `no Tutti node is running on ${dataDir} (start one with \`tutti start\`)`, 503)
  }
}

export interface ApiClient {
  baseUrl: string
  token: string
  get<T>(path: string, signal?: AbortSignal): Promise<T>
  post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T>
}

export async function connectToNode(dataDir: string): Promise<ApiClient> {
  const info = await readRuntimeInfo(dataDir)
  if (info === undefined) throw new NodeNotRunningError(dataDir)
  const token = (await readFile(join(dataDir, 'api-token'), 'utf8')).trim()
  const baseUrl = info.apiUrl.replace(/\/$/, '')
  const call = async <T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    }).catch((err: Error) => {
      throw new TuttiError('NODE_UNREACHABLE', `cannot reach the node at ${baseUrl}: ${err.message}`, 503)
    })
    const text = await res.text()
    const json = text === '' ? undefined : (JSON.parse(text) as unknown)
    if (!res.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error
      throw new TuttiError(
        error?.code ?? 'API_ERROR',
        error?.message ?? `${res.status} ${res.statusText}`,
        res.status,
      )
    }
    return json as T
  }
  return {
    baseUrl,
    token,
    get: (path, signal) => call('GET', path, undefined, signal),
    post: (path, body, signal) => call('POST', path, body, signal),
  }
}
