/** `tutti party <subcommand>`: dispatches to the party module's CLI functions (src/party/cli-party.ts). */

import { UsageError } from '../../node/config.ts'
import {
  partyCommand,
  partyCreateCommand,
  partyJoinCommand,
  partyLeaveCommand,
  partyListCommand,
  partyQueueCommand,
  partySpeakerCommand,
  partyStatusCommand,
} from '../../party/cli-party.ts'
import type { ApiClient } from '../api-client.ts'

export const PARTY_USAGE = `  tutti party create NAME [--open | --approve] [--public] [--mode host-only|everyone|djs]
                                 --open: anyone with the invite joins (default); --approve: you admit each joiner
  tutti party join INVITE        join a party (tutti://join/… link)
  tutti party status | leave | list | speaker
  tutti party queue CID|TITLE [--next]
  tutti party play | pause | skip | previous
  tutti party seek SECONDS
  tutti party approve|reject PEER_ID`

type Flags = Record<string, string | boolean | undefined>

/** The flags `tutti party` accepts (for parseArgs). */
export const PARTY_FLAGS = {
  open: { type: 'boolean' },
  approve: { type: 'boolean' },
  public: { type: 'boolean' },
  next: { type: 'boolean' },
  mode: { type: 'string' },
} as const

/** `--open` (the default) or `--approve`; both at once is a usage error. */
export function joinPolicyFlag(flags: Flags): 'open' | 'approve' {
  if (flags.open === true && flags.approve === true)
    throw new UsageError(
      '--open and --approve cannot be used together: --open lets anyone with the invite join (the default), --approve holds each joiner until you approve them',
    )
  return flags.approve === true ? 'approve' : 'open'
}

function need(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing ${what}\n${PARTY_USAGE}`)
  return value
}

/**
 * Runs one `tutti party` subcommand. Arguments are checked before `connect`
 * is called, so a usage error is reported even when no node runs.
 */
export async function partyCliCommand(
  connect: () => Promise<ApiClient>,
  positionals: string[],
  flags: Flags,
): Promise<void> {
  const [sub, arg] = positionals
  const json = flags.json === true
  if (sub !== 'create' && (flags.open === true || flags.approve === true))
    throw new UsageError(`--open and --approve only go with \`tutti party create\`\n${PARTY_USAGE}`)
  switch (sub) {
    case 'create': {
      const mode = flags.mode as string | undefined
      if (mode !== undefined && !['host-only', 'everyone', 'djs'].includes(mode))
        throw new UsageError(`--mode: ${mode}? (host-only, everyone or djs)`)
      const args = {
        name: need(arg, 'party name'),
        joinPolicy: joinPolicyFlag(flags),
        public: flags.public === true,
        mode: mode as 'host-only' | 'everyone' | 'djs' | undefined,
      }
      return partyCreateCommand(await connect(), args, json)
    }
    case 'join': {
      const invite = need(arg, 'invite')
      return partyJoinCommand(await connect(), invite, json)
    }
    case 'status':
      return partyStatusCommand(await connect(), json)
    case 'leave':
      return partyLeaveCommand(await connect())
    case 'list':
      return partyListCommand(await connect(), json)
    case 'speaker':
      return partySpeakerCommand(await connect())
    case 'queue': {
      const song = need(arg, 'song id or title')
      return partyQueueCommand(await connect(), song, flags.next === true)
    }
    case 'play':
    case 'pause':
    case 'skip':
    case 'previous':
      return partyCommand(await connect(), { type: sub } as never)
    case 'seek': {
      const seconds = Number(need(arg, 'position in seconds'))
      if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError(`seek: not a position: ${arg}`)
      return partyCommand(await connect(), { type: 'seek', position: seconds })
    }
    case 'approve':
    case 'reject': {
      const peerId = need(arg, 'peer id')
      return partyCommand(await connect(), { type: sub, peerId })
    }
    default:
      throw new UsageError(`unknown party command ${JSON.stringify(sub ?? '')}\n${PARTY_USAGE}`)
  }
}
