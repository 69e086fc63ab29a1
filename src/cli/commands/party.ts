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

export const PARTY_USAGE = `  tutti party create NAME [--approve] [--public] [--mode host-only|everyone|djs]
  tutti party join INVITE        join a party (tutti://join/… link)
  tutti party status | leave | list | speaker
  tutti party queue CID|TITLE [--next]
  tutti party play | pause | skip | previous
  tutti party seek SECONDS
  tutti party approve|reject PEER_ID`

type Flags = Record<string, string | boolean | undefined>

function need(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing ${what}\n${PARTY_USAGE}`)
  return value
}

export async function partyCliCommand(api: ApiClient, positionals: string[], flags: Flags): Promise<void> {
  const [sub, arg] = positionals
  const json = flags.json === true
  switch (sub) {
    case 'create': {
      const mode = flags.mode as string | undefined
      if (mode !== undefined && !['host-only', 'everyone', 'djs'].includes(mode))
        throw new UsageError(`--mode: ${mode}?`)
      return partyCreateCommand(
        api,
        {
          name: need(arg, 'party name'),
          approve: flags.approve === true,
          public: flags.public === true,
          mode: mode as never,
        },
        json,
      )
    }
    case 'join':
      return partyJoinCommand(api, need(arg, 'invite'), json)
    case 'status':
      return partyStatusCommand(api, json)
    case 'leave':
      return partyLeaveCommand(api)
    case 'list':
      return partyListCommand(api, json)
    case 'speaker':
      return partySpeakerCommand(api)
    case 'queue':
      return partyQueueCommand(api, need(arg, 'song id or title'), flags.next === true)
    case 'play':
    case 'pause':
    case 'skip':
    case 'previous':
      return partyCommand(api, { type: sub } as never)
    case 'seek': {
      const seconds = Number(need(arg, 'position in seconds'))
      if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError(`seek: not a position: ${arg}`)
      return partyCommand(api, { type: 'seek', position: seconds })
    }
    case 'approve':
    case 'reject':
      return partyCommand(api, { type: sub, peerId: need(arg, 'peer id') })
    default:
      throw new UsageError(`unknown party command ${JSON.stringify(sub ?? '')}\n${PARTY_USAGE}`)
  }
}
