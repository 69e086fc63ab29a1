/**
 * Node configuration: command-line flags, each with an environment twin
 * (`--api-port` ↔ `TUTTI_API_PORT`), over XDG default directories. Flags win
 * over the environment, the environment over defaults. Pure: takes argv and
 * env, returns a config or throws `UsageError`.
 */
import { homedir } from 'node:os'
import { delimiter, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { isInside, type ShareFolder, ShareScope } from '../search/share.ts'
import { TuttiError } from '../shared/errors.ts'

export class UsageError extends TuttiError {
  constructor(message: string) {
    super('USAGE', message, 400)
  }
}

export interface NodeConfig {
  /** Music folders; empty means "use the generated demo library". */
  libraries: string[]
  /** Who may see the songs in a folder (`--share DIR=SCOPE`); folders no rule names are shared with everyone. */
  shares: ShareFolder[]
  dataDir: string
  configDir: string
  apiPort: number
  listen: string[]
  bootstrap: string[]
  mdns: boolean
  exposeLan: boolean
  relayServer: boolean
  /** Take reservations on relays we meet, so peers can reach us through one while we are behind NAT. */
  relayClient: boolean
  /** Extra addresses to announce (a port forward on the user's router). */
  announce: string[]
  output: string
  displayName?: string
  /** Swarm limits; undefined = the swarm's default (rates: uncapped). */
  uploadRateBytes?: number
  downloadRateBytes?: number
  maxPeers?: number
  maxRequests?: number
}

export const DEFAULT_API_PORT = 7707

/** One row per flag: `--help` and the config file's keys come from this table; a test checks the README names every flag. */
export const NODE_FLAGS = [
  {
    flag: 'library',
    env: 'TUTTI_LIBRARY',
    kind: 'list',
    arg: 'DIR',
    help: 'music folder to share (repeatable; env: path-list)',
  },
  {
    flag: 'share',
    env: 'TUTTI_SHARE',
    kind: 'list',
    arg: 'DIR=everyone|party|nobody',
    help: 'who sees a library folder (or a folder inside one) (repeatable; env: path-list; default everyone)',
  },
  {
    flag: 'data',
    env: 'TUTTI_DATA',
    kind: 'string',
    arg: 'DIR',
    help: 'data directory (identity, index, downloads)',
  },
  {
    flag: 'api-port',
    env: 'TUTTI_API_PORT',
    kind: 'string',
    arg: 'N',
    help: `local API/web UI port (default ${DEFAULT_API_PORT}; 0 = any)`,
  },
  {
    flag: 'listen',
    env: 'TUTTI_LISTEN',
    kind: 'list',
    arg: 'MULTIADDR',
    help: 'libp2p listen address (repeatable)',
  },
  {
    flag: 'bootstrap',
    env: 'TUTTI_BOOTSTRAP',
    kind: 'list',
    arg: 'MULTIADDR',
    help: 'peer to join through (repeatable)',
  },
  {
    flag: 'no-mdns',
    env: 'TUTTI_NO_MDNS',
    kind: 'boolean',
    help: 'do not discover peers on the LAN by mDNS',
  },
  {
    flag: 'expose-lan',
    env: 'TUTTI_EXPOSE_LAN',
    kind: 'boolean',
    help: 'serve the web UI on the LAN too (still token-protected)',
  },
  {
    flag: 'relay',
    env: 'TUTTI_RELAY',
    kind: 'boolean',
    help: 'offer circuit-relay to peers behind NAT (with limits)',
  },
  {
    flag: 'no-relay-client',
    env: 'TUTTI_NO_RELAY_CLIENT',
    kind: 'boolean',
    help: 'do not take reservations on relays (no reachability through one behind NAT)',
  },
  {
    flag: 'announce',
    env: 'TUTTI_ANNOUNCE',
    kind: 'list',
    arg: 'MULTIADDR',
    help: 'public address to announce, e.g. a router port forward (repeatable)',
  },
  {
    flag: 'output',
    env: 'TUTTI_OUTPUT',
    kind: 'string',
    arg: 'none|wav:FILE|pipe:CMD',
    help: 'where the node plays party audio (default none)',
  },
  {
    flag: 'name',
    env: 'TUTTI_NAME',
    kind: 'string',
    arg: 'NAME',
    help: 'display name in parties (default: host name)',
  },
  {
    flag: 'upload-rate',
    env: 'TUTTI_UPLOAD_RATE',
    kind: 'string',
    arg: 'RATE',
    help: 'upload cap, bytes/s: 2MiB, 500KiB, 4MB, 800000 (default / 0: uncapped)',
  },
  {
    flag: 'download-rate',
    env: 'TUTTI_DOWNLOAD_RATE',
    kind: 'string',
    arg: 'RATE',
    help: 'download cap, bytes/s, as --upload-rate (default / 0: uncapped)',
  },
  {
    flag: 'max-peers',
    env: 'TUTTI_MAX_PEERS',
    kind: 'string',
    arg: 'N',
    help: 'peers a download fetches from at once (default 20)',
  },
  {
    flag: 'max-requests',
    env: 'TUTTI_MAX_REQUESTS',
    kind: 'string',
    arg: 'N',
    help: 'outstanding piece requests across all downloads (default 256)',
  },
] as const

export function xdgDirs(env: NodeJS.ProcessEnv): { dataDir: string; configDir: string } {
  const home = env.HOME ?? homedir()
  const data =
    env.XDG_DATA_HOME !== undefined && env.XDG_DATA_HOME !== ''
      ? env.XDG_DATA_HOME
      : join(home, '.local', 'share')
  const config =
    env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== ''
      ? env.XDG_CONFIG_HOME
      : join(home, '.config')
  return { dataDir: join(data, 'tutti'), configDir: join(config, 'tutti') }
}

function parsePort(text: string, source: string): number {
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`${source}: not a port number: ${text}`)
  return port
}

function parseMultiaddr(text: string, source: string): string {
  try {
    return multiaddr(text).toString()
  } catch (err) {
    throw new UsageError(`${source}: not a multiaddr: ${text} (${(err as Error).message})`)
  }
}

/**
 * `DIR=SCOPE`, split at the last `=` (a folder name may hold one). DIR must be
 * a library folder or inside one (or inside the data directory: the demo
 * library, downloads): a typo must not silently leave a private folder shared.
 */
function parseShare(text: string, libraries: string[], dataDir: string): ShareFolder {
  const at = text.lastIndexOf('=')
  const scope = ShareScope.safeParse(text.slice(at + 1))
  if (at <= 0 || !scope.success)
    throw new UsageError(`--share: expected DIR=everyone|party|nobody, got ${text}`)
  const path = resolve(text.slice(0, at))
  const roots = libraries.length > 0 ? [...libraries, dataDir] : [dataDir]
  if (!roots.some((root) => isInside(root, path)))
    throw new UsageError(`--share: ${path} is not a --library folder or inside one`)
  return { path, scope: scope.data }
}

const RATE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 * 1024,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
}

/** `2MiB`, `500KiB`, `4MB`, `1.5m`, `800000` (optionally `/s`) → bytes/s; 0 → undefined (uncapped). */
export function parseRate(text: string, source: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)(?:\/s)?\s*$/i.exec(text)
  const unit = m === null ? undefined : RATE_UNITS[m[2].toLowerCase()]
  if (m === null || unit === undefined)
    throw new UsageError(`${source}: not a rate: ${text} (examples: 2MiB, 500KiB, 4MB, 800000)`)
  const bytes = Math.round(Number(m[1]) * unit)
  if (bytes === 0) return undefined
  if (bytes < 1024) throw new UsageError(`${source}: ${text} is below 1 KiB/s; 0 means uncapped`)
  return bytes
}

function parseCount(text: string | undefined, source: string, max: number): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`${source}: expected a whole number from 1 to ${max}, got ${text}`)
  return n
}

function truthy(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false'
}

/** Parse the options of `tutti start` (and the `--data` of every other command). */
export function parseNodeConfig(argv: string[], env: NodeJS.ProcessEnv): NodeConfig {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {}
  for (const f of NODE_FLAGS)
    options[f.flag] = { type: f.kind === 'boolean' ? 'boolean' : 'string', multiple: f.kind === 'list' }
  let values: Record<string, string | boolean | string[] | undefined>
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const list = (flag: string, envName: string, split: string): string[] => {
    const fromFlag = values[flag] as string[] | undefined
    if (fromFlag !== undefined && fromFlag.length > 0) return fromFlag
    const fromEnv = env[envName]
    return fromEnv === undefined || fromEnv === '' ? [] : fromEnv.split(split).filter((s) => s !== '')
  }
  const str = (flag: string, envName: string): string | undefined =>
    (values[flag] as string | undefined) ?? env[envName]
  const bool = (flag: string, envName: string): boolean => values[flag] === true || truthy(env[envName])

  const xdg = xdgDirs(env)
  const dataDir = resolve(str('data', 'TUTTI_DATA') ?? xdg.dataDir)
  const portText = str('api-port', 'TUTTI_API_PORT')
  const output = str('output', 'TUTTI_OUTPUT') ?? 'none'
  if (!/^(none|wav:.+|pipe:.+)$/.test(output))
    throw new UsageError(`--output: expected none, wav:FILE or pipe:CMD, got ${output}`)
  const libraries = list('library', 'TUTTI_LIBRARY', delimiter).map((p) => resolve(p))
  return {
    libraries,
    // The last rule for a folder wins.
    shares: [
      ...new Map(
        list('share', 'TUTTI_SHARE', delimiter)
          .map((s) => parseShare(s, libraries, dataDir))
          .map((rule) => [rule.path, rule]),
      ).values(),
    ],
    dataDir,
    configDir: xdg.configDir,
    apiPort: portText === undefined ? DEFAULT_API_PORT : parsePort(portText, '--api-port'),
    listen: list('listen', 'TUTTI_LISTEN', ','),
    bootstrap: list('bootstrap', 'TUTTI_BOOTSTRAP', ','),
    mdns: !bool('no-mdns', 'TUTTI_NO_MDNS'),
    exposeLan: bool('expose-lan', 'TUTTI_EXPOSE_LAN'),
    relayServer: bool('relay', 'TUTTI_RELAY'),
    // A relay is reachable by definition; it takes no reservations on others.
    relayClient: !bool('no-relay-client', 'TUTTI_NO_RELAY_CLIENT') && !bool('relay', 'TUTTI_RELAY'),
    announce: list('announce', 'TUTTI_ANNOUNCE', ',').map((a) => parseMultiaddr(a, '--announce')),
    output,
    displayName: str('name', 'TUTTI_NAME'),
    uploadRateBytes: optionalRate(str('upload-rate', 'TUTTI_UPLOAD_RATE'), '--upload-rate'),
    downloadRateBytes: optionalRate(str('download-rate', 'TUTTI_DOWNLOAD_RATE'), '--download-rate'),
    maxPeers: parseCount(str('max-peers', 'TUTTI_MAX_PEERS'), '--max-peers', 1000),
    maxRequests: parseCount(str('max-requests', 'TUTTI_MAX_REQUESTS'), '--max-requests', 100_000),
  }
}

function optionalRate(text: string | undefined, source: string): number | undefined {
  return text === undefined ? undefined : parseRate(text, source)
}

export function nodeFlagsHelp(): string {
  return NODE_FLAGS.map((f) => {
    const left = `  --${f.flag}${'arg' in f ? ` ${f.arg}` : ''}`
    return `${left.padEnd(38)} ${f.help} [${f.env}]`
  }).join('\n')
}
