/**
 * Finds the audio files under a set of roots. Follows symbolic links (music
 * folders are often links to other disks) but enters each real directory once,
 * so link loops end. Problems become rejections, never exceptions.
 */
import type { Dirent, Stats } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { formatFromPath } from './formats.ts'
import type { RejectedFile } from './types.ts'

export interface FoundFile {
  path: string
  size: number
  mtimeMs: number
}

export interface WalkResult {
  files: FoundFile[]
  problems: RejectedFile[]
  /** Roots that do not exist (or vanished): everything indexed under them is gone. */
  missingRoots: string[]
}

/** Each root may be a folder or a single file. */
export async function findAudioFiles(
  roots: string[],
  options: { signal?: AbortSignal } = {},
): Promise<WalkResult> {
  const result: WalkResult = { files: [], problems: [], missingRoots: [] }
  const visited = new Set<string>()

  async function visitDir(dir: string, info: Stats): Promise<void> {
    const key = `${info.dev}:${info.ino}`
    if (visited.has(key)) return
    visited.add(key)
    let entries: Dirent[]
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch (err) {
      result.problems.push({ path: dir, reason: `cannot read folder: ${errorText(err)}` })
      return
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      options.signal?.throwIfAborted()
      // Hidden files include macOS "._song.mp3" resource forks, which are not audio.
      if (entry.name.startsWith('.')) continue
      const path = join(dir, entry.name)
      if (entry.isFile()) {
        if (formatFromPath(path) === undefined) continue
        await visitPath(path, false)
      } else if (entry.isDirectory() || entry.isSymbolicLink() || formatFromPath(path) !== undefined) {
        await visitPath(path, false)
      }
    }
  }

  async function visitPath(path: string, isRoot: boolean): Promise<void> {
    let info: Stats
    try {
      info = await stat(path)
    } catch (err) {
      if (isRoot) result.missingRoots.push(path)
      else if (formatFromPath(path) !== undefined)
        result.problems.push({ path, reason: `cannot open: ${errorText(err)}` })
      return
    }
    if (info.isDirectory()) return visitDir(path, info)
    if (formatFromPath(path) === undefined) return
    if (!info.isFile()) {
      result.problems.push({ path, reason: 'not a regular file (a device, pipe or socket)' })
      return
    }
    result.files.push({ path, size: info.size, mtimeMs: info.mtimeMs })
  }

  for (const root of roots) await visitPath(root, true)
  return result
}

export function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  if (e?.code === 'ENOENT') return 'no such file (a broken link?)'
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return 'permission denied'
  if (e?.code === 'ELOOP') return 'too many levels of symbolic links'
  if (e?.code === 'EISDIR') return 'is a folder'
  return (e?.message ?? String(err)).replace(/[\p{Cc}]/gu, ' ').slice(0, 200)
}
