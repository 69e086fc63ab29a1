#!/usr/bin/env node
/**
 * The `tutti` command. `start` runs a node; every other command talks to the
 * running node through its local API. Exit codes: 0 ok, 1 failure, 2 usage
 * error, 3 no node running, 4 a node already runs on this data directory.
 */
import { parseArgs } from 'node:util'
import { type NodeConfig, nodeFlagsHelp, parseNodeConfig, UsageError, xdgDirs } from '../node/config.ts'
import { configFilePath, environmentWithConfigFile } from '../node/config-file.ts'
import { BROWSE_FLAGS, browseCommand, parseBrowseArgs } from '../search/cli-browse.ts'
import { parseSearchArgs, SEARCH_FLAGS, searchCommand } from '../search/cli-search.ts'
import { TuttiError } from '../shared/errors.ts'
import { runGet } from '../swarm/cli-get.ts'
import { type ApiClient, connectToNode } from './api-client.ts'
import { libraryCommand, peersCommand, statusCommand } from './commands/info.ts'
import { PARTY_FLAGS, PARTY_USAGE, partyCliCommand } from './commands/party.ts'
import { startCommand } from './commands/start.ts'

export const EXIT = { ok: 0, failure: 1, usage: 2, notRunning: 3, alreadyRunning: 4 } as const

const USAGE = `tutti — peer-to-peer listening parties

Usage:
  tutti start [options]          run a node (default: on a generated demo library)
  tutti status [--json]          the running node: peer id, addresses, library
  tutti peers [--json]           peers seen and connected, with round-trip times
  tutti library [FILTER] [--rejected] [--json]
                                 songs in the library (or files it refused, and why)
  tutti search [TEXT] [--title T] [--artist A] [--album B] [--min-duration S] [--max-duration S]
               [--ttl N] [--timeout MS] [--json]
                                 search every reachable peer's library (durations: 90 or 1:30)
  tutti browse PEER_ID [--page N] [--limit N] [--sort title|artist|album|duration] [--desc] [--json]
                                 one page of a peer's shared library
  tutti get CID [--from PEER_ID]...
                                 fetch a song from every peer that has it
${PARTY_USAGE}

Options of start:
${nodeFlagsHelp()}

Every command accepts --data DIR [TUTTI_DATA] to choose the node (default ${xdgDirs(process.env).dataDir}).
Settings may also live in ${configFilePath(process.env)} [TUTTI_CONFIG]: a JSON object
keyed by the flag names above, e.g. {"library": ["~/Music"], "no-mdns": true}.
Flags win over the environment, the environment over the config file.
`

type Command = (args: string[]) => Promise<void>

/** Options shared by the client commands: which node (`--data`), and `--json`. */
function clientArgs(args: string[], extra: Record<string, { readonly type: 'string' | 'boolean' }> = {}) {
  try {
    const parsed = parseArgs({
      args,
      options: { data: { type: 'string' }, json: { type: 'boolean' }, ...extra },
      allowPositionals: true,
      strict: true,
    })
    return {
      values: parsed.values as Record<string, string | boolean | undefined>,
      positionals: parsed.positionals,
    }
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

async function client(values: { data?: string | boolean }): Promise<ApiClient> {
  const dataDir = parseNodeConfig(
    typeof values.data === 'string' ? ['--data', values.data] : [],
    environmentWithConfigFile(process.env),
  ).dataDir
  return connectToNode(dataDir)
}

const commands: Record<string, Command> = {
  start: async (args) => {
    const config: NodeConfig = parseNodeConfig(args, environmentWithConfigFile(process.env))
    await startCommand(config)
  },
  status: async (args) => {
    const { values } = clientArgs(args)
    await statusCommand(await client(values), values.json === true)
  },
  peers: async (args) => {
    const { values } = clientArgs(args)
    await peersCommand(await client(values), values.json === true)
  },
  library: async (args) => {
    const { values, positionals } = clientArgs(args, { rejected: { type: 'boolean' } })
    await libraryCommand(await client(values), values.json === true, positionals[0], values.rejected === true)
  },
}

Object.assign(commands, {
  search: async (args: string[]) => {
    const { values, positionals } = clientArgs(args, SEARCH_FLAGS)
    const { query, ttl, timeoutMs } = parseSearchArgs(values, positionals)
    await searchCommand(await client(values), query, { ttl, timeoutMs, json: values.json === true })
  },
  browse: async (args: string[]) => {
    const { values, positionals } = clientArgs(args, BROWSE_FLAGS)
    const { peerId, options } = parseBrowseArgs(values, positionals)
    await browseCommand(await client(values), peerId, options)
  },
  get: async (args: string[]) => {
    const { values, positionals } = clientArgs(args, { from: { type: 'string' } })
    const cid = positionals[0]
    if (cid === undefined) throw new UsageError('get: which song? (tutti get CID)')
    const from = typeof values.from === 'string' ? [values.from] : undefined
    await runGet(await client(values), cid, { providers: from }) // prints where the song landed
  },
  party: async (args: string[]) => {
    const { values, positionals } = clientArgs(args, PARTY_FLAGS)
    await partyCliCommand(() => client(values), positionals, values)
  },
} satisfies Record<string, Command>)

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage
  if (err instanceof TuttiError && err.code === 'NODE_NOT_RUNNING') return EXIT.notRunning
  if (err instanceof TuttiError && err.code === 'NODE_RUNNING') return EXIT.alreadyRunning
  return EXIT.failure
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (
    name === undefined ||
    name === '--help' ||
    name === '-h' ||
    name === 'help' ||
    rest.includes('--help')
  ) {
    process.stdout.write(USAGE)
    return name === undefined ? EXIT.usage : EXIT.ok
  }
  const command = commands[name]
  if (command === undefined) {
    process.stderr.write(`tutti: unknown command ${JSON.stringify(name)}\n\n${USAGE}`)
    return EXIT.usage
  }
  try {
    await command(rest)
    return EXIT.ok
  } catch (err) {
    const code = exitCodeFor(err)
    process.stderr.write(`tutti ${name}: ${(err as Error).message}\n`)
    if (code === EXIT.failure && process.env.DEBUG !== undefined) console.error(err)
    return code
  }
}

process.exitCode = await main(process.argv.slice(2))
