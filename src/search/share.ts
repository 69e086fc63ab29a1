/**
 * Share settings: which folders a node shares, and with whom. Pure. A song's
 * scope is that of the longest configured folder containing it (else the
 * default); `everyone` shares with any peer, `party` only with members of a
 * party this node is in, `nobody` hides it from search and catalog alike.
 */
import { sep } from 'node:path'
import type { Song } from '../library/types.ts'

export type ShareScope = 'everyone' | 'party' | 'nobody'

export interface ShareSettings {
  defaultScope: ShareScope
  folders: Array<{ path: string; scope: ShareScope }>
}

/** May `peerId` see `song`? The search and catalog components take one of these. */
export type ShareScopeCheck = (peerId: string, song: Song) => boolean

export const shareEverything: ShareScopeCheck = () => true

export function scopeOf(settings: ShareSettings, songPath: string): ShareScope {
  let best: { length: number; scope: ShareScope } | undefined
  for (const folder of settings.folders) {
    const dir = folder.path.endsWith(sep) ? folder.path : folder.path + sep
    if (songPath.startsWith(dir) && (best === undefined || dir.length > best.length))
      best = { length: dir.length, scope: folder.scope }
  }
  return best?.scope ?? settings.defaultScope
}

export function shareScopeCheck(
  settings: ShareSettings,
  isPartyMember: (peerId: string) => boolean,
): ShareScopeCheck {
  return (peerId, song) => {
    const scope = scopeOf(settings, song.path)
    return scope === 'everyone' || (scope === 'party' && isPartyMember(peerId))
  }
}
