/**
 * The persisted index: `<dataDir>/library.sqlite` (node:sqlite). Songs keep
 * their manifest so a restart never re-hashes an unchanged file; rejected
 * files keep their size and mtime so they are not re-parsed either.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { decodeManifest, encodeManifest, type Manifest } from './content-id.ts'
import type { AudioFormat, RejectedFile, Song } from './types.ts'

export type SongOrigin = 'scan' | 'swarm'

export interface StoredRejection extends RejectedFile {
  size: number
  mtimeMs: number
}

const SCHEMA_VERSION = 1

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
  const db = new DatabaseSync(file)
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;')
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
      const row = statements.manifest.get(cid) as { manifest: Uint8Array } | undefined
      return row === undefined ? undefined : decodeManifest(row.manifest)
    },
    putSong(song, manifest, origin) {
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
      )
    },
    deleteSong(path) {
      statements.deleteSong.run(path)
    },
    putRejection(r) {
      statements.putRejection.run(r.path, r.size, r.mtimeMs, r.reason)
    },
    deleteRejection(path) {
      statements.deleteRejection.run(path)
    },
    close() {
      if (!open) return
      open = false
      db.close()
    },
  }
}
