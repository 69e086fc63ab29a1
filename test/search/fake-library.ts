/** An in-memory Library for search tests (the real one scans folders and hashes files). */
import type { Library, LibraryEvents, Song } from '../../src/library/types.ts'
import { TypedEmitter } from '../../src/shared/events.ts'

export function song(title: string, artist: string, album = 'Album', extra: Partial<Song> = {}): Song {
  const cid = `bafy${Buffer.from(`${title}|${artist}|${album}`).toString('hex').slice(0, 40)}`
  return {
    cid,
    path: `/music/${artist}/${album}/${title}.mp3`,
    size: 1_000_000,
    mtimeMs: 0,
    format: 'mp3',
    mime: 'audio/mpeg',
    title,
    artist,
    album,
    durationSec: 200,
    ...extra,
  }
}

export class FakeLibrary extends TypedEmitter<LibraryEvents> implements Library {
  readonly songs = new Map<string, Song>()

  constructor(songs: Song[] = []) {
    super()
    for (const s of songs) this.songs.set(s.cid, s)
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async rescan(): Promise<void> {}
  list(): Song[] {
    return [...this.songs.values()]
  }
  get(cid: string): Song | undefined {
    return this.songs.get(cid)
  }
  manifest(): undefined {
    return undefined
  }
  rejected() {
    return []
  }
  add(s: Song): void {
    this.songs.set(s.cid, s)
    this.emit('song:added', s)
  }
  remove(cid: string): void {
    const s = this.songs.get(cid)
    this.songs.delete(cid)
    if (s !== undefined) this.emit('song:removed', { cid, path: s.path })
  }
  async addVerifiedFile(): Promise<Song> {
    throw new Error('not in the fake')
  }
}
