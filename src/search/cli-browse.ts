/**
 * `tutti browse PEER_ID`: one page of another peer's shared library, through
 * the running node's `GET /api/peers/:peerId/catalog` (src/api/routes/search.ts).
 *
 *   tutti browse PEER_ID [--page N] [--limit N] [--sort title|artist|album|duration] [--desc] [--json]
 */
import type { ApiClient } from '../cli/api-client.ts'
import { songTable } from '../cli/output.ts'
import { UsageError } from '../node/config.ts'
import type { CatalogPage } from './catalog.ts'
import { CatalogSort, MAX_CATALOG_PAGE } from './schema.ts'

export const DEFAULT_BROWSE_LIMIT = 50

/** The flags `tutti browse` takes besides --data and --json (parseArgs options). */
export const BROWSE_FLAGS = {
  page: { type: 'string' },
  limit: { type: 'string' },
  sort: { type: 'string' },
  desc: { type: 'boolean' },
} as const

export interface BrowseCommandOptions {
  /** 1-based. */
  page?: number
  limit?: number
  sort?: CatalogSort
  descending?: boolean
  json?: boolean
  out?: NodeJS.WritableStream
}

function positiveInteger(flag: string, value: string | boolean | undefined, max: number): number | undefined {
  if (typeof value !== 'string') return undefined
  const n = Number(value)
  if (!(Number.isInteger(n) && n >= 1 && n <= max)) throw new UsageError(`--${flag}: 1..${max}`)
  return n
}

/** The peer and options from `tutti browse`'s positionals and flags. */
export function parseBrowseArgs(
  values: Record<string, string | boolean | undefined>,
  positionals: string[],
): { peerId: string; options: BrowseCommandOptions } {
  const peerId = positionals[0]
  if (peerId === undefined) throw new UsageError('browse: whose library? (tutti browse PEER_ID)')
  if (positionals.length > 1) throw new UsageError('browse: one peer id at a time')
  const sort = values.sort === undefined ? undefined : CatalogSort.safeParse(values.sort)
  if (sort !== undefined && !sort.success) throw new UsageError(`--sort: ${CatalogSort.options.join(', ')}`)
  return {
    peerId,
    options: {
      page: positiveInteger('page', values.page, 1_000_000),
      limit: positiveInteger('limit', values.limit, MAX_CATALOG_PAGE),
      sort: sort?.data,
      descending: values.desc === true,
      json: values.json === true,
    },
  }
}

export async function browseCommand(
  api: ApiClient,
  peerId: string,
  options: BrowseCommandOptions = {},
): Promise<CatalogPage> {
  const out = options.out ?? process.stdout
  const limit = options.limit ?? DEFAULT_BROWSE_LIMIT
  const page = options.page ?? 1
  const params = new URLSearchParams({ offset: String((page - 1) * limit), limit: String(limit) })
  if (options.sort !== undefined) params.set('sort', options.sort)
  if (options.descending === true) params.set('desc', 'true')
  const result = await api.get<CatalogPage>(`/api/peers/${encodeURIComponent(peerId)}/catalog?${params}`)
  if (options.json === true) {
    out.write(`${JSON.stringify(result, null, 2)}\n`)
    return result
  }
  const pages = Math.max(1, Math.ceil(result.total / limit))
  if (result.songs.length === 0) {
    out.write(
      result.total === 0
        ? 'this peer shares no songs\n'
        : `page ${page} is past the end: ${result.total} songs, ${pages} page(s)\n`,
    )
    return result
  }
  songTable(result.songs, out)
  const first = result.offset + 1
  const last = result.offset + result.songs.length
  out.write(`\nsongs ${first}–${last} of ${result.total} · page ${page} of ${pages}`)
  if (page >= pages) {
    out.write('\n')
    return result
  }
  const same = [
    options.limit === undefined ? '' : ` --limit ${limit}`,
    options.sort === undefined ? '' : ` --sort ${options.sort}`,
    options.descending === true ? ' --desc' : '',
  ].join('')
  out.write(` · next: tutti browse ${peerId} --page ${page + 1}${same}\n`)
  return result
}
