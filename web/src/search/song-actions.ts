/**
 * What the UI can do with another peer's song: download it (from the given
 * providers first) or queue it in the party. Shared by the Search page and
 * the catalog browser; each resolves to the notice to show the user.
 */
import { api } from '../api.ts'

export interface RemoteSong {
  cid: string
  title: string
  artist: string
  durationSec: number
}

/** POST /api/downloads (src/api/routes/swarm.ts) with the peers to ask first. */
export function downloadSong(song: RemoteSong, providers: string[]): Promise<string> {
  return api.post('/api/downloads', { cid: song.cid, providers: providers.slice(0, 32) }).then(
    () => `Downloading “${song.title}” from ${providers.length} peer(s)`,
    (err: Error) => `Download failed: ${err.message}`,
  )
}

/** Enqueues by content id: members fetch it from the swarm even if no member has it yet. */
export function queueInParty(song: RemoteSong): Promise<string> {
  return api
    .post('/api/party/commands', {
      command: {
        type: 'enqueue',
        song: {
          cid: song.cid,
          title: song.title,
          artist: song.artist,
          durationSec: Math.max(1, song.durationSec),
        },
      },
    })
    .then(
      () => `Queued “${song.title}” in the party`,
      (err: Error) => `Could not queue: ${err.message}`,
    )
}
