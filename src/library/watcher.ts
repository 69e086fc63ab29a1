/**
 * Watches library folders (fs.watch, recursive) and reports the changed paths
 * in batches, after `debounceMs` of quiet, so a copy of a whole album is one
 * batch rather than thousands of events.
 */
import { type FSWatcher, watch } from 'node:fs'
import { join, sep } from 'node:path'
import { type Clock, monotonicClock } from '../shared/clock.ts'
import { log } from '../shared/logger.ts'

const logger = log('library:watch')
/** A batch is flushed at the latest this many debounce periods after its first event. */
const MAX_WAIT_FACTOR = 10

export interface FolderWatcher {
  close(): void
}

export function watchFolders(
  folders: string[],
  debounceMs: number,
  onChanges: (paths: string[] | 'all') => void,
  clock: Clock = monotonicClock,
): FolderWatcher {
  const watchers: FSWatcher[] = []
  let pending = new Set<string>()
  let everything = false
  let timer: NodeJS.Timeout | undefined
  let firstPendingAt: number | undefined

  const flush = () => {
    timer = undefined
    firstPendingAt = undefined
    const batch = everything ? 'all' : [...pending]
    pending = new Set()
    everything = false
    onChanges(batch)
  }

  for (const folder of folders) {
    try {
      const watcher = watch(folder, { recursive: true, persistent: false }, (_event, name) => {
        // No file name means the OS lost track (e.g. an event overflow): re-check everything.
        if (name === null) everything = true
        else if (isHidden(name.toString())) return
        else pending.add(join(folder, name.toString()))
        // Wait for quiet, but not forever: a folder that never stops changing still gets indexed.
        firstPendingAt ??= clock.now()
        clearTimeout(timer)
        const waited = clock.now() - firstPendingAt
        timer = setTimeout(flush, waited > debounceMs * MAX_WAIT_FACTOR ? 0 : debounceMs)
      })
      watcher.on('error', (err) => logger.error('watching %s failed: %s', folder, err.message))
      watchers.push(watcher)
    } catch (err) {
      logger.error('cannot watch %s: %s', folder, (err as Error).message)
    }
  }

  return {
    close() {
      clearTimeout(timer)
      timer = undefined
      for (const w of watchers.splice(0)) w.close()
    },
  }
}

/** Hidden files and folders (editors' swap files, rsync temporaries, macOS metadata) are not part of the library. */
function isHidden(relativePath: string): boolean {
  return relativePath.split(sep).some((segment) => segment.startsWith('.'))
}
