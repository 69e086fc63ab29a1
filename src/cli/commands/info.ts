/** `tutti status`, `tutti peers`, `tutti library`: read-only views of the running node. */
import type { Song } from '../../library/types.ts'
import type { PeerRecord } from '../../net/peer-table.ts'
import type { ApiClient } from '../api-client.ts'
import { songTable, table } from '../output.ts'

export async function statusCommand(api: ApiClient, json: boolean): Promise<void> {
  const status = await api.get<Record<string, unknown>>('/api/status')
  if (json) return void console.log(JSON.stringify(status, null, 2))
  for (const [key, value] of Object.entries(status)) {
    console.log(
      `${key.padEnd(14)} ${Array.isArray(value) ? value.map(listItem).join('\n'.padEnd(16)) : typeof value === 'object' ? JSON.stringify(value) : String(value)}`,
    )
  }
}

/** One line of a status list: share rules as `scope  folder`, anything else as is. */
function listItem(item: unknown): string {
  if (typeof item !== 'object' || item === null) return String(item)
  if ('scope' in item && 'path' in item) return `${String(item.scope).padEnd(9)} ${String(item.path)}`
  return JSON.stringify(item)
}

export async function peersCommand(api: ApiClient, json: boolean): Promise<void> {
  const body = await api.get<{ peers: PeerRecord[] }>('/api/peers')
  if (json) return void console.log(JSON.stringify(body.peers, null, 2))
  if (body.peers.length === 0) return void console.log('no peers yet')
  table([
    ['PEER', 'STATE', 'RTT', 'ADDRESS'],
    ...body.peers.map((p) => [
      p.peerId,
      p.connected ? 'connected' : 'seen',
      p.rttMs === undefined ? '-' : `${p.rttMs.toFixed(1)} ms`,
      p.addresses[0] ?? '-',
    ]),
  ])
}

export async function libraryCommand(
  api: ApiClient,
  json: boolean,
  query: string | undefined,
  rejected: boolean,
): Promise<void> {
  if (rejected) {
    const body = await api.get<{ rejected: Array<{ path: string; reason: string }> }>('/api/library/rejected')
    if (json) return void console.log(JSON.stringify(body.rejected, null, 2))
    if (body.rejected.length === 0) return void console.log('no rejected files')
    table([['FILE', 'REASON'], ...body.rejected.map((r) => [r.path, r.reason])])
    return
  }
  const path = query === undefined ? '/api/library' : `/api/library?q=${encodeURIComponent(query)}`
  const body = await api.get<{ songs: Song[] }>(path)
  if (json) return void console.log(JSON.stringify(body.songs, null, 2))
  if (body.songs.length === 0) return void console.log('no songs')
  songTable(body.songs)
}
