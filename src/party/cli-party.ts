/**
 * `tutti party …` subcommands, as functions the CLI (src/cli) hooks up. Each
 * talks to the running node through its local API (routes/party.ts).
 *
 *   tutti party create <name> [--open | --approve] [--public] [--mode host-only|everyone|djs]
 *   tutti party join <invite>
 *   tutti party status
 *   tutti party leave
 *   tutti party queue <cid> [--next]      (a song from this node's library)
 *   tutti party play|pause|skip|previous
 *   tutti party seek <seconds>
 *   tutti party approve|reject <peerId>
 *   tutti party speaker                    (prints the speaker link + QR)
 *   tutti party list                       (public parties, nearby first)
 */
import QRCode from 'qrcode'
import type { ApiClient } from '../cli/api-client.ts'
import type { Song } from '../library/types.ts'
import type { FoundParty, PartyStatus } from './service.ts'
import type { PartyCommand } from './state.ts'

export interface CreateArgs {
  name: string
  /** 'open' (default): anyone with the invite joins; 'approve': the host admits each joiner. */
  joinPolicy?: 'open' | 'approve'
  public?: boolean
  mode?: 'host-only' | 'everyone' | 'djs'
}

export async function partyCreateCommand(api: ApiClient, args: CreateArgs, json = false): Promise<void> {
  const body = await api.post<{ invite: string; inviteQr: string; status: PartyStatus }>('/api/party', {
    name: args.name,
    joinPolicy: args.joinPolicy ?? 'open',
    public: args.public === true,
    permissions: args.mode === undefined ? undefined : { mode: args.mode },
  })
  if (json) return void console.log(JSON.stringify({ invite: body.invite, party: body.status }, null, 2))
  console.log(`Party "${body.status.name}" created. Invite (share it with your friends):\n`)
  if (body.status.joinPolicy === 'approve')
    console.log('  Joiners wait for you: tutti party approve|reject PEER_ID (see tutti party status)\n')
  console.log(`  ${body.invite}\n`)
  console.log(body.inviteQr)
}

export async function partyJoinCommand(api: ApiClient, invite: string, json = false): Promise<void> {
  console.error('joining… (if the party needs the host’s approval, this waits until the host decides)')
  const body = await api.post<{ party: PartyStatus }>('/api/party/join', { invite })
  if (json) return void console.log(JSON.stringify(body.party, null, 2))
  console.log(`joined "${body.party.name}" (${body.party.members.length} members)`)
  printStatus(body.party)
}

export async function partyStatusCommand(api: ApiClient, json = false): Promise<void> {
  const body = await api.get<{ party: PartyStatus | null }>('/api/party')
  if (json) return void console.log(JSON.stringify(body.party, null, 2))
  if (body.party === null) return void console.log('not in a party (create one: tutti party create "Friday")')
  printStatus(body.party)
}

export async function partyLeaveCommand(api: ApiClient): Promise<void> {
  await api.post('/api/party/leave', {})
  console.log('left the party')
}

/** Any party command (play, pause, skip, previous, seek, enqueue, …). Prints the refusal reason when refused. */
export async function partyCommand(api: ApiClient, command: PartyCommand): Promise<void> {
  const body = await api.post<{ index?: number; result: { ok: boolean; entryId?: string } }>(
    '/api/party/commands',
    {
      command,
    },
  )
  console.log(body.result.entryId === undefined ? 'ok' : `ok (${body.result.entryId})`)
}

/** Queues a song from this node's library by content id (or a unique title match). */
export async function partyQueueCommand(api: ApiClient, cidOrTitle: string, next = false): Promise<void> {
  const { songs } = await api.get<{ songs: Song[] }>(`/api/library?q=${encodeURIComponent(cidOrTitle)}`)
  const byCid = (await api.get<{ songs: Song[] }>('/api/library')).songs.find((s) => s.cid === cidOrTitle)
  const song = byCid ?? (songs.length === 1 ? songs[0] : undefined)
  if (song === undefined) {
    throw new Error(
      songs.length > 1
        ? `"${cidOrTitle}" matches ${songs.length} songs; give the content id`
        : `no song "${cidOrTitle}" in the library`,
    )
  }
  await partyCommand(api, {
    type: 'enqueue',
    next,
    song: { cid: song.cid, title: song.title, artist: song.artist, durationSec: song.durationSec },
  })
}

export async function partySpeakerCommand(api: ApiClient): Promise<void> {
  const body = await api.post<{ url: string; warning?: string }>('/api/party/speaker-token', {})
  console.log(`Speaker link (open it on any device that can reach this node):\n\n  ${body.url}\n`)
  console.log(await QRCode.toString(body.url, { type: 'terminal', small: true }))
  if (body.warning !== undefined) console.error(`warning: ${body.warning}`)
}

export async function partyListCommand(api: ApiClient, json = false): Promise<void> {
  const { parties } = await api.get<{ parties: FoundParty[] }>('/api/party/parties')
  if (json) return void console.log(JSON.stringify(parties, null, 2))
  if (parties.length === 0) return void console.log('no public parties found')
  const sorted = [...parties].sort((a, b) => Number(b.nearby) - Number(a.nearby))
  for (const p of sorted) {
    const playing = p.nowPlaying === undefined ? '' : ` — ${p.nowPlaying.artist} · ${p.nowPlaying.title}`
    console.log(`${p.nearby ? '[nearby] ' : ''}${p.name} (${p.members} members)${playing}\n  ${p.invite}`)
  }
}

function printStatus(s: PartyStatus): void {
  const now = s.nowPlaying
  const fmt = (sec: number) => `${Math.floor(sec / 60)}:${String(Math.floor(sec % 60)).padStart(2, '0')}`
  console.log(`party     ${s.name} (${s.role}${s.awaitingApproval ? ', waiting for approval' : ''})`)
  console.log(
    `playing   ${now.entry === null ? '-' : `${now.entry.artist} · ${now.entry.title} ${fmt(now.position)}/${fmt(now.entry.durationSec)}${now.playing ? '' : ' (paused)'}`}`,
  )
  const current = s.queue.findIndex((e) => e.entryId === now.entry?.entryId)
  const upcoming = s.queue.slice(current + 1)
  console.log(
    `up next   ${
      upcoming.length === 0
        ? '-'
        : upcoming
            .map((e) => `${e.title}`)
            .slice(0, 5)
            .join(', ')
    }`,
  )
  const host = s.members.find((m) => m.peerId === s.leader)
  console.log(
    `host      ${host === undefined ? 'electing…' : `${host.name} ${host.peerId}`} (term ${s.term}${s.connection === 'connected' ? '' : `, ${s.connection}`})`,
  )
  console.log(`control   ${s.permissions.mode}${s.can.controlMusic ? '' : ' (you cannot control the music)'}`)
  console.log('members')
  for (const m of s.members) {
    const sync = m.syncErrorMs === undefined ? '' : ` sync ±${m.syncErrorMs.toFixed(1)} ms`
    const rtt = m.rttMs === undefined ? '' : ` rtt ${m.rttMs.toFixed(1)} ms`
    console.log(
      `  ${m.self ? '*' : ' '} ${m.name} (${m.role}${m.replica === undefined ? '' : `, ${m.replica}`}${m.health === 'unreachable' ? ', unreachable' : ''})${rtt}${sync}${m.suspected ? ' [not answering]' : ''}`,
    )
  }
  if (s.pending.length > 0) {
    console.log('join requests (tutti party approve <peerId>)')
    for (const p of s.pending) console.log(`    ${p.name} ${p.peerId}`)
  }
  console.log(`invite    ${s.invite}`)
}
