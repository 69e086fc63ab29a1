/**
 * Peers caught sending pieces that fail their hash. A peer is banned for a
 * song at its first bad piece and from the whole node once it has offended on
 * `NODE_BAN_AFTER` songs. Persisted in `<dataDir>/swarm-bans.json`, so a
 * restart does not forgive anyone. Each piece comes whole from one peer, so
 * blame is exact (no smart-ban bookkeeping of blocks is needed).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

export const NODE_BAN_AFTER = 3

interface BanFile {
  peers: Record<string, { songs: string[] }>
}

export interface BanList {
  isBanned(peer: string): boolean
  isBannedFor(peer: string, cid: string): boolean
  /** Record a bad piece; resolves true when the peer is now banned from the node. */
  recordOffence(peer: string, cid: string): Promise<boolean>
  list(): Array<{ peer: string; songs: string[]; node: boolean }>
}

export async function loadBanList(path: string): Promise<BanList> {
  let state: BanFile = { peers: {} }
  try {
    const raw = JSON.parse(await readFile(path, 'utf8')) as BanFile
    if (raw !== null && typeof raw === 'object' && typeof raw.peers === 'object') state = raw
  } catch {}
  let writing: Promise<void> = Promise.resolve()
  const persist = (): Promise<void> => {
    const text = JSON.stringify(state)
    writing = writing.then(async () => {
      await mkdir(dirname(path), { recursive: true })
      await writeFile(`${path}.tmp`, text)
      await rename(`${path}.tmp`, path)
    })
    return writing
  }
  const songs = (peer: string): string[] => state.peers[peer]?.songs ?? []
  return {
    isBanned: (peer) => songs(peer).length >= NODE_BAN_AFTER,
    isBannedFor: (peer, cid) => songs(peer).length >= NODE_BAN_AFTER || songs(peer).includes(cid),
    async recordOffence(peer, cid) {
      const entry = state.peers[peer] ?? { songs: [] }
      if (!entry.songs.includes(cid)) entry.songs.push(cid)
      state.peers[peer] = entry
      await persist()
      return entry.songs.length >= NODE_BAN_AFTER
    },
    list: () =>
      Object.entries(state.peers).map(([peer, e]) => ({
        peer,
        songs: [...e.songs],
        node: e.songs.length >= NODE_BAN_AFTER,
      })),
  }
}
