/**
 * The persisted index: `<dataDir>/library.sqlite` (node:sqlite). Songs keep
 * their manifest so a restart never re-hashes an unchanged file; rejected
 * files keep their size and mtime so they are not re-parsed either.
 *
 * A write the disk has no room for (SQLITE_FULL, an I/O error) does not stop
 * the scan: the song's manifest is kept in memory, so it is found and served
 * this run, and the next start indexes it again. Said once in the log.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { log } from '../shared/logger.ts'
import { decodeManifest, encodeManifest, type Manifest } from './content-id.ts'
import type { AudioFormat, RejectedFile, Song } from './types.ts'

export type SongOrigin = 'scan' | 'swarm'

export interface StoredRejection extends RejectedFile {
  size: number
  mtimeMs: number
}

const logger = log('library')
const SCHEMA_VERSION = 1

/** SQLite's primary result codes for "the disk is full" and "a write failed". */
const SQLITE_IOERR = 10
const SQLITE_FULL = 13

function isStorageFull(err: unknown): boolean {
  const primary = ((err as { errcode?: number }).errcode ?? -1) & 0xff
  return primary === SQLITE_FULL || primary === SQLITE_IOERR
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS songs (
  path TEXT PRIMARY KEY,
  cid TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  format TEXT NOT NULL,
  mime TEXT NOT NULL,
  title TEXT NOT NULL,
  artist TEXT NOT NULL,
  album TEXT NOT NULL,
  duration_sec REAL NOT NULL,
  sample_rate INTEGER,
  channels INTEGER,
  origin TEXT NOT NULL,
  manifest BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS songs_by_cid ON songs (cid);
CREATE TABLE IF NOT EXISTS rejected (
  path TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  reason TEXT NOT NULL
);
`

interface SongRow {
  path: string
  cid: string
  size: number
  mtime_ms: number
  format: string
  mime: string
  title: string
  artist: string
  album: string
  duration_sec: number
  sample_rate: number | null
  channels: number | null
  origin: string
}

export interface LibraryStore {
  loadSongs(): Array<{ song: Song; origin: SongOrigin }>
  loadRejections(): StoredRejection[]
  manifest(cid: string): Manifest | undefined
  putSong(song: Song, manifest: Manifest, origin: SongOrigin): void
  deleteSong(path: string): void
  putRejection(rejection: StoredRejection): void
  deleteRejection(path: string): void
  close(): void
}

export function openLibraryStore(file: string): LibraryStore {
  let db: DatabaseSync
  try {
    db = new DatabaseSync(file)
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;')
  } catch (err) {
    if (!isStorageFull(err) || file === ':memory:') throw err
    // WAL's shared-memory file cannot grow on a full disk. The index on disk stays as it is; this
    // run keeps one in memory (every song is hashed again), and the next start with room uses the file.
    logger.error(
      'the library index %s cannot be opened (%s); indexing in memory for this run',
      file,
      (err as Error).message,
    )
    return openLibraryStore(':memory:')
  }
  const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version
  if (version > SCHEMA_VERSION) {
    db.close()
    throw new Error(`${file} was written by a newer Tutti (schema ${version}); refusing to touch it`)
  }
  db.exec(SCHEMA)
  db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`)

  const statements: Record<string, StatementSync> = {
    songs: db.prepare(
      'SELECT path, cid, size, mtime_ms, format, mime, title, artist, album, duration_sec, sample_rate, channels, origin FROM songs',
    ),
    rejections: db.prepare('SELECT path, size, mtime_ms, reason FROM rejected'),
    manifest: db.prepare('SELECT manifest FROM songs WHERE cid = ? LIMIT 1'),
    putSong: db.prepare(
      `INSERT OR REPLACE INTO songs (path, cid, size, mtime_ms, format, mime, title, artist, album, duration_sec, sample_rate, channels, origin, manifest)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    deleteSong: db.prepare('DELETE FROM songs WHERE path = ?'),
    putRejection: db.prepare(
      'INSERT OR REPLACE INTO rejected (path, size, mtime_ms, reason) VALUES (?, ?, ?, ?)',
    ),
    deleteRejection: db.prepare('DELETE FROM rejected WHERE path = ?'),
  }
  let open = true
  /** Manifests whose rows the disk had no room for, by cid: served from memory until the next start. */
  const unsaved = new Map<string, Manifest>()
  let warned = false
  /** Run a write; on a full disk, log (once) and carry on without it. Returns whether it was saved. */
  const write = (what: string, run: () => void): boolean => {
    try {
      run()
      return true
    } catch (err) {
      if (!isStorageFull(err)) throw err
      if (!warned)
        logger.error(
          'the library index could not be saved (%s: %s); songs found are served from memory and indexed again at the next start',
          what,
          (err as Error).message,
        )
      warned = true
      return false
    }
  }

  return {
    loadSongs() {
      return (statements.songs.all() as unknown as SongRow[]).map((row) => ({
        origin: row.origin === 'swarm' ? 'swarm' : 'scan',
        song: {
          cid: row.cid,
          path: row.path,
          size: row.size,
          mtimeMs: row.mtime_ms,
          format: row.format as AudioFormat,
          mime: row.mime,
          title: row.title,
          artist: row.artist,
          album: row.album,
          durationSec: row.duration_sec,
          ...(row.sample_rate === null ? {} : { sampleRate: row.sample_rate }),
          ...(row.channels === null ? {} : { channels: row.channels }),
        },
      }))
    },
    loadRejections() {
      return (
        statements.rejections.all() as unknown as Array<{
          path: string
          size: number
          mtime_ms: number
          reason: string
        }>
      ).map((row) => ({ path: row.path, size: row.size, mtimeMs: row.mtime_ms, reason: row.reason }))
    },
    manifest(cid) {
      const kept = unsaved.get(cid)
      if (kept !== undefined) return kept
      const row = statements.manifest.get(cid) as { manifest: Uint8Array } | undefined
      return row === undefined ? undefined : decodeManifest(row.manifest)
    },
    putSong(song, manifest, origin) {
      const saved = write(`indexing ${song.path}`, () =>
        statements.putSong.run(
          song.path,
          song.cid,
          song.size,
          song.mtimeMs,
          song.format,
          song.mime,
          song.title,
          song.artist,
          song.album,
          song.durationSec,
          song.sampleRate ?? null,
          song.channels ?? null,
          origin,
          encodeManifest(manifest),
        ),
      )
      if (saved) unsaved.delete(song.cid)
      else unsaved.set(song.cid, manifest)
    },
    deleteSong(path) {
      // Not saved: the next start loads the row, finds no file there and deletes it again.
      write(`forgetting ${path}`, () => statements.deleteSong.run(path))
    },
    putRejection(r) {
      write(`noting ${r.path}`, () => statements.putRejection.run(r.path, r.size, r.mtimeMs, r.reason))
    },
    deleteRejection(path) {
      write(`forgetting ${path}`, () => statements.deleteRejection.run(path))
    },
    close() {
      if (!open) return
      open = false
      db.close()
    },
  }
}
