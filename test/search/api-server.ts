/** Test helper: the search API routes served over one test node's components, on a free loopback port. */
import { searchRoutes } from '../../src/api/routes/search.ts'
import { createApiServer } from '../../src/api/server.ts'
import type { ApiComponents } from '../../src/api/types.ts'
import { TypedEmitter } from '../../src/shared/events.ts'
import type { TestNode } from './network.ts'

export interface SearchApi {
  /** Without a trailing slash. */
  url: string
  stop(): Promise<void>
}

/** `extra` adds (or, with `{ search: undefined }`, removes) components such as the directory. */
export async function startSearchApi(
  node: TestNode,
  token: string,
  extra: Record<string, unknown> = {},
): Promise<SearchApi> {
  const components = {
    library: node.library,
    songs: { stat: () => undefined, read: async function* () {} },
    node: { status: () => ({}) as never, peers: () => [] },
    events: new TypedEmitter(),
    search: node.search,
    ...extra,
  } as ApiComponents
  const server = createApiServer({ port: 0, token, routes: searchRoutes }, components)
  const url = (await server.start()).url.replace(/\/$/, '')
  return { url, stop: () => server.stop() }
}
