/**
 * The music library of a node: scans folders, reads tags, computes content
 * ids and piece layouts once, keeps them in `<dataDir>/library.sqlite`, and
 * follows the folders for changes. Public entry point of src/library/.
 *
 *   const library = createLibrary({ folders: ['/music'], dataDir })
 *   await library.start()          // loads the index, then an incremental scan
 *   library.list(); library.manifest(cid); openSongRange(song, 0, 1023)
 */
import { mkdir, stat } from 'node:fs/promises'
import { join, resolve, sep } from 'node:path'
import { type Clock, monotonicClock } from '../shared/clock.ts'
import { TypedEmitter } from '../shared/events.ts'
import { log } from '../shared/logger.ts'
import { hashFile, type Manifest, manifestMatches } from './content-id.ts'
import { LibraryStoppedError, SongFileMismatchError } from './errors.ts'
import { formatFromPath, MIME_TYPES } from './formats.ts'
import { probeAudioFile } from './probe.ts'
import { songTags } from './sanitize.ts'
import { type LibraryStore, openLibraryStore, type SongOrigin, type StoredRejection } from './store.ts'
import type { Library, LibraryEvents, RejectedFile, Song } from './types.ts'
import { errorText, type FoundFile, findAudioFiles } from './walk.ts'
import { type FolderWatcher, watchFolders } from './watcher.ts'

export { openSongRange } from './range.ts'
export type { Library, LibraryEvents, RejectedFile, ScanProgress, Song } from './types.ts'

const logger = log('library')

export interface LibraryInit {
  folders: string[]
  dataDir: string
  /** Follow the folders for added, changed and removed files (default false). */
  watch?: boolean
  clock?: Clock
  /** Quiet time after the last file-system event before the changes are indexed (default 500 ms). */
  watchDebounceMs?: number
  /** Files probed and hashed at the same time (default 2). */
  concurrency?: number
  /** Minimum time between two `scan:progress` events (default 100 ms). */
  progressIntervalMs?: number
}

interface IndexedFile {
  song: Song
  origin: SongOrigin
}

const MANIFEST_CACHE_SIZE = 64

export function createLibrary(init: LibraryInit): Library {
  const clock = init.clock ?? monotonicClock
  const folders = init.folders.map((f) => resolve(f))
  const concurrency = Math.max(1, init.concurrency ?? 2)
  const progressIntervalMs = init.progressIntervalMs ?? 100
  const events = new TypedEmitter<LibraryEvents>()
  const byPath = new Map<string, IndexedFile>()
  const pathsByCid = new Map<string, Set<string>>()
  const rejections = new Map<string, StoredRejection>()
  const manifestCache = new Map<string, Manifest>()
  const lifetime = new AbortController()
  let store: LibraryStore | undefined
  let watcher: FolderWatcher | undefined
  let starting: Promise<void> | undefined
  let stopping: Promise<void> | undefined
  // One scan or update at a time: the index is only ever changed by the task holding the lane.
  let lane: Promise<unknown> = Promise.resolve()

  function exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = lane.then(task)
    lane = run.catch(() => {})
    return run
  }

  function requireStore(): LibraryStore {
    if (store === undefined || stopping !== undefined) throw new LibraryStoppedError()
    return store
  }

  /** The store, for the lane's own writes (it stays open until the lane drains on stop). */
  function db(): LibraryStore {
    if (store === undefined) throw new LibraryStoppedError()
    return store
  }

  function primarySong(cid: string): Song | undefined {
    const paths = pathsByCid.get(cid)
    if (paths === undefined) return undefined
    for (const path of paths) return byPath.get(path)?.song
    return undefined
  }

  function index(song: Song, manifest: Manifest, origin: SongOrigin): void {
    const previous = byPath.get(song.path)
    if (previous !== undefined && previous.song.cid !== song.cid) unindex(song.path)
    db().putSong(song, manifest, origin)
    if (rejections.delete(song.path)) db().deleteRejection(song.path)
    byPath.set(song.path, { song, origin })
    let paths = pathsByCid.get(song.cid)
    const isNew = paths === undefined
    if (paths === undefined) {
      paths = new Set()
      pathsByCid.set(song.cid, paths)
    }
    paths.add(song.path)
    if (isNew) events.emit('song:added', song)
  }

  function unindex(path: string): void {
    const entry = byPath.get(path)
    if (entry === undefined) return
    db().deleteSong(path)
    byPath.delete(path)
    const { cid } = entry.song
    const paths = pathsByCid.get(cid)
    paths?.delete(path)
    // Another copy of the same bytes keeps the song in the library.
    if (paths !== undefined && paths.size > 0) return
    pathsByCid.delete(cid)
    manifestCache.delete(cid)
    events.emit('song:removed', { cid, path })
  }

  function reject(rejection: StoredRejection): void {
    unindex(rejection.path)
    const previous = rejections.get(rejection.path)
    rejections.set(rejection.path, rejection)
    db().putRejection(rejection)
    if (previous?.reason !== rejection.reason) {
      logger('rejected %s: %s', rejection.path, rejection.reason)
      events.emit('file:rejected', { path: rejection.path, reason: rejection.reason })
    }
  }

  function forget(path: string): void {
    if (rejections.delete(path)) db().deleteRejection(path)
  }

  function isUnchanged(file: FoundFile): boolean {
    const known = byPath.get(file.path)?.song ?? rejections.get(file.path)
    return known !== undefined && known.size === file.size && known.mtimeMs === file.mtimeMs
  }

  interface ScanCounters {
    hashedFiles: number
    bytesHashed: number
  }

  async function indexFile(file: FoundFile, signal: AbortSignal, counters: ScanCounters): Promise<void> {
    const probe = await probeAudioFile(file.path, file.size)
    signal.throwIfAborted()
    if (!probe.ok) return reject({ ...file, reason: probe.reason })
    let hashed: Awaited<ReturnType<typeof hashFile>>
    try {
      hashed = await hashFile(file.path, { signal, onBytes: (n) => (counters.bytesHashed += n) })
    } catch (err) {
      signal.throwIfAborted()
      return reject({ ...file, reason: `cannot read: ${errorText(err)}` })
    }
    counters.hashedFiles++
    if (hashed.manifest.size !== file.size) {
      // Still being written: the watcher (or the next scan) sees its final size and mtime.
      logger('%s changed while it was hashed; indexing it later', file.path)
      return
    }
    const song: Song = {
      cid: hashed.cid,
      path: file.path,
      size: file.size,
      mtimeMs: file.mtimeMs,
      format: probe.format,
      mime: probe.mime,
      title: probe.title,
      artist: probe.artist,
      album: probe.album,
      durationSec: probe.durationSec,
      ...(probe.sampleRate === undefined ? {} : { sampleRate: probe.sampleRate }),
      ...(probe.channels === undefined ? {} : { channels: probe.channels }),
    }
    index(song, hashed.manifest, 'scan')
  }

  const isUnder = (path: string, roots: string[]) =>
    roots.some((root) => path === root || path.startsWith(root + sep))

  /**
   * Brings the index in line with the disk under `roots` (the library folders
   * for a full scan, or the paths the watcher reported).
   */
  async function refresh(requestedRoots: string[], full: boolean, signal: AbortSignal): Promise<void> {
    const startedAt = clock.now()
    const counters: ScanCounters = { hashedFiles: 0, bytesHashed: 0 }
    // The watcher reports a new folder and the files in it: walk the folder once, not each file again.
    const unique = [...new Set(requestedRoots)]
    const roots = unique.filter((root) => !unique.some((other) => other !== root && isUnder(root, [other])))
    const walk = await findAudioFiles(roots, { signal })
    signal.throwIfAborted()
    // A library folder that is missing (an unplugged disk?) is reported like a file; a path the watcher saw vanish is not.
    if (full)
      for (const root of walk.missingRoots)
        walk.problems.push({ path: root, reason: 'library folder not found' })

    const present = new Set([...walk.files.map((f) => f.path), ...walk.problems.map((p) => p.path)])
    for (const path of [...byPath.keys()]) if (isUnder(path, roots) && !present.has(path)) unindex(path)
    for (const path of [...rejections.keys()]) if (isUnder(path, roots) && !present.has(path)) forget(path)
    for (const problem of walk.problems) reject({ ...problem, size: -1, mtimeMs: -1 })
    if (full) await dropVanishedDownloads(roots)

    const todo = walk.files.filter((file) => !isUnchanged(file))
    let done = 0
    let lastProgressAt = Number.NEGATIVE_INFINITY
    const progress = (force: boolean) => {
      const now = clock.now()
      if (!force && now - lastProgressAt < progressIntervalMs) return
      lastProgressAt = now
      events.emit('scan:progress', {
        filesDone: done,
        filesTotal: todo.length,
        bytesHashed: counters.bytesHashed,
      })
    }
    if (todo.length > 0) progress(true)
    let next = 0
    // allSettled: on abort every lane must have stopped touching the index before the scan counts as over.
    const lanes = await Promise.allSettled(
      Array.from({ length: Math.min(concurrency, todo.length) }, async () => {
        while (next < todo.length) {
          const file = todo[next++]
          try {
            await indexFile(file, signal, counters)
          } catch (err) {
            signal.throwIfAborted()
            // A bug or an odd file system must cost one file, not the scan.
            reject({ ...file, reason: `could not be indexed: ${errorText(err)}` })
          }
          done++
          progress(done === todo.length)
        }
      }),
    )
    signal.throwIfAborted()
    for (const lane of lanes) if (lane.status === 'rejected') throw lane.reason
    events.emit('scan:done', {
      songs: pathsByCid.size,
      rejected: rejections.size,
      hashedFiles: counters.hashedFiles,
      bytesHashed: counters.bytesHashed,
      ms: clock.now() - startedAt,
      full,
    })
  }

  /** Songs that arrived by swarm outside the library folders: drop those whose file is gone or changed. */
  async function dropVanishedDownloads(roots: string[]): Promise<void> {
    for (const [path, entry] of [...byPath]) {
      if (entry.origin !== 'swarm' || isUnder(path, roots)) continue
      const info = await stat(path).catch(() => undefined)
      if (info === undefined || info.size !== entry.song.size || info.mtimeMs !== entry.song.mtimeMs)
        unindex(path)
    }
  }

  function scanSignal(signal?: AbortSignal): AbortSignal {
    return signal === undefined ? lifetime.signal : AbortSignal.any([lifetime.signal, signal])
  }

  function rescan(options: { signal?: AbortSignal } = {}): Promise<void> {
    requireStore()
    return exclusive(() => refresh(folders, true, scanSignal(options.signal)))
  }

  function onWatchedChanges(paths: string[] | 'all'): void {
    if (stopping !== undefined) return
    const roots = paths === 'all' ? folders : paths.map((p) => resolve(p))
    exclusive(() => refresh(roots, paths === 'all', lifetime.signal)).catch((err) => {
      if (!lifetime.signal.aborted) logger.error('indexing changed files failed: %s', (err as Error).message)
    })
  }

  async function start(): Promise<void> {
    await mkdir(init.dataDir, { recursive: true })
    store = openLibraryStore(join(init.dataDir, 'library.sqlite'))
    for (const { song, origin } of store.loadSongs()) {
      byPath.set(song.path, { song, origin })
      const paths = pathsByCid.get(song.cid) ?? new Set()
      paths.add(song.path)
      pathsByCid.set(song.cid, paths)
    }
    for (const rejection of store.loadRejections()) rejections.set(rejection.path, rejection)
    logger('loaded %d songs and %d rejected files from the index', pathsByCid.size, rejections.size)
    // Watch first, so changes made during the initial scan are queued behind it rather than lost.
    if (init.watch === true)
      watcher = watchFolders(folders, init.watchDebounceMs ?? 500, onWatchedChanges, clock)
    try {
      await rescan()
    } catch (err) {
      if (!lifetime.signal.aborted) throw err
    }
  }

  async function addVerifiedFile(path: string, cid: string, manifest: Manifest): Promise<Song> {
    requireStore()
    const absolute = resolve(path)
    return exclusive(async () => {
      if (!(await manifestMatches(cid, manifest)))
        throw new SongFileMismatchError(`the manifest given for ${cid} is not the one it names`)
      const info = await stat(absolute)
      if (info.size !== manifest.size) {
        throw new SongFileMismatchError(
          `${absolute} has ${info.size} bytes, the manifest of ${cid} says ${manifest.size}`,
        )
      }
      const probe = await probeAudioFile(absolute, info.size)
      const format = probe.ok ? probe.format : formatFromPath(absolute)
      if (format === undefined)
        throw new SongFileMismatchError(`${absolute} is not a file name of a supported audio format`)
      if (!probe.ok)
        logger('verified file %s has unreadable tags (%s); using its file name', absolute, probe.reason)
      const tags = probe.ok ? probe : songTags(absolute, {})
      const song: Song = {
        cid,
        path: absolute,
        size: info.size,
        mtimeMs: info.mtimeMs,
        format,
        mime: MIME_TYPES[format],
        title: tags.title,
        artist: tags.artist,
        album: tags.album,
        durationSec: probe.ok ? probe.durationSec : 0,
        ...(probe.ok && probe.sampleRate !== undefined ? { sampleRate: probe.sampleRate } : {}),
        ...(probe.ok && probe.channels !== undefined ? { channels: probe.channels } : {}),
      }
      index(song, manifest, 'swarm')
      return song
    })
  }

  return {
    start() {
      if (stopping !== undefined) return Promise.reject(new LibraryStoppedError())
      starting ??= start()
      return starting
    },
    stop() {
      stopping ??= (async () => {
        lifetime.abort(new LibraryStoppedError())
        watcher?.close()
        await starting?.catch(() => {})
        await lane.catch(() => {})
        store?.close()
      })()
      return stopping
    },
    rescan,
    list() {
      const songs: Song[] = []
      for (const cid of pathsByCid.keys()) {
        const song = primarySong(cid)
        if (song !== undefined) songs.push(song)
      }
      return songs.sort(
        (a, b) =>
          a.artist.localeCompare(b.artist) ||
          a.album.localeCompare(b.album) ||
          a.title.localeCompare(b.title) ||
          a.path.localeCompare(b.path),
      )
    },
    get: primarySong,
    manifest(cid) {
      if (!pathsByCid.has(cid) || store === undefined) return undefined
      let manifest = manifestCache.get(cid)
      if (manifest === undefined) {
        manifest = store.manifest(cid)
        if (manifest === undefined) return undefined
        if (manifestCache.size >= MANIFEST_CACHE_SIZE)
          manifestCache.delete(manifestCache.keys().next().value as string)
        manifestCache.set(cid, manifest)
      }
      return manifest
    },
    rejected(): RejectedFile[] {
      return [...rejections.values()].map(({ path, reason }) => ({ path, reason }))
    },
    addVerifiedFile,
    on: (type, listener) => events.on(type, listener),
  }
}
