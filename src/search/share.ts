/**
 * Share settings: which folders a node shares, and with whom. Pure. A song's
 * scope is that of the longest configured folder containing it (else the
 * default); `everyone` shares with any peer, `party` only with members of a
 * party this node is in, `nobody` with no peer at all. `mayShare` is the one
 * rule: search answers, catalog pages, the swarm's serving side and its DHT
 * announcements all ask it.
 */
import { sep } from 'node:path'
import { z } from 'zod'
import type { Song } from '../library/types.ts'

export const ShareScope = z.enum(['everyone', 'party', 'nobody'])
export type ShareScope = z.infer<typeof ShareScope>

export interface ShareFolder {
  path: string
  scope: ShareScope
}

export interface ShareSettings {
  defaultScope: ShareScope
  folders: ShareFolder[]
}

/** May `peerId` see `song`? The search and catalog components take one of these. */
export type ShareScopeCheck = (peerId: string, song: Song) => boolean

export const shareEverything: ShareScopeCheck = () => true

/** `path` is `folder` or inside it (`/music/privateer` is not inside `/music/private`). */
export function isInside(folder: string, path: string): boolean {
  return path === folder || path.startsWith(folder.endsWith(sep) ? folder : folder + sep)
}

export function scopeOf(settings: ShareSettings, songPath: string): ShareScope {
  let best: { length: number; scope: ShareScope } | undefined
  for (const folder of settings.folders) {
    if (isInside(folder.path, songPath) && (best === undefined || folder.path.length > best.length))
      best = { length: folder.path.length, scope: folder.scope }
  }
  return best?.scope ?? settings.defaultScope
}

/**
 * The one decision: may the song at `songPath` go to a requester who is (or
 * is not) a member of a party this node is in? Announcing to the world (the
 * DHT) asks with `partyMember: false`: only `everyone` songs are announced.
 */
export function mayShare(settings: ShareSettings, songPath: string, partyMember: boolean): boolean {
  const scope = scopeOf(settings, songPath)
  return scope === 'everyone' || (scope === 'party' && partyMember)
}

export function shareScopeCheck(
  settings: ShareSettings,
  isPartyMember: (peerId: string) => boolean,
): ShareScopeCheck {
  return (peerId, song) => mayShare(settings, song.path, isPartyMember(peerId))
}

/**
 * The node's settings from its `--share` rules: every library folder is
 * listed (shared with everyone unless a rule says otherwise) so that status
 * shows the whole picture, and so is the swarm's download folder, shared with
 * everyone (its songs came from the network, where they are public already)
 * unless a rule names it or a folder inside it.
 */
export function nodeShareSettings(
  libraries: string[],
  downloadDir: string,
  rules: ShareFolder[],
): ShareSettings {
  const folders = [...rules]
  for (const path of [...libraries, downloadDir])
    if (!folders.some((f) => f.path === path)) folders.push({ path, scope: 'everyone' })
  return { defaultScope: 'everyone', folders }
}
