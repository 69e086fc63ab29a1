/**
 * Durable Raft state in one directory:
 *   hardstate  term, vote, commit           — replaced atomically (temp, fsync, rename, fsync dir)
 *   snapshot   the compacted prefix + app state — replaced atomically
 *   log        a header record (the index/term the log follows) then one
 *              record per entry, appended; each record is
 *              [u32 length][u32 crc32][CBOR payload]
 *
 * `save(ready)` writes snapshot, entries, hard state in that order and fsyncs
 * before it resolves: the shell sends the ready's messages (votes, append
 * acknowledgements) only afterwards. A torn record at the end of the log (a
 * crash mid-append) is cut off on open. A crash between writing a snapshot
 * and rewriting the log is repaired on open by the Raft rule: keep the log
 * tail only if the log holds the snapshot's last entry with the same term.
 */
import { type FileHandle, mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { AbortOptions } from '@libp2p/interface'
import { decode, encode } from 'cborg'
import { z } from 'zod'
import { StorageCorruptError } from './errors.ts'
import type { Entry, HardState, Snapshot } from './types.ts'

export interface PersistedState {
  hardState?: HardState
  snapshot?: Snapshot
  entries: Entry[]
}

/** The parts of a `Ready` that must be durable. */
export interface Persistable {
  hardState: HardState | null
  entries: Entry[]
  snapshot: Snapshot | null
}

const HARD_STATE = 'hardstate'
const SNAPSHOT = 'snapshot'
const LOG = 'log'
const RECORD_HEADER = 8

const hardStateSchema = z.object({
  term: z.number().int().min(0),
  vote: z.string().nullable(),
  commit: z.number().int().min(0),
})
const confSchema = z.object({ voters: z.array(z.string()), learners: z.array(z.string()) })
const snapshotSchema = z.object({
  index: z.number().int().min(0),
  term: z.number().int().min(0),
  conf: confSchema,
  data: z.instanceof(Uint8Array),
})
const entrySchema = z.object({
  index: z.number().int().min(1),
  term: z.number().int().min(1),
  type: z.enum(['normal', 'conf', 'noop']),
  data: z.instanceof(Uint8Array),
})
const logHeaderSchema = z.object({ baseIndex: z.number().int().min(0), baseTerm: z.number().int().min(0) })

export class RaftStorage {
  readonly dir: string
  #log: FileHandle
  /** The log file follows (baseIndex, baseTerm); terms[i] / offsets[i] describe entry baseIndex+1+i. */
  #baseIndex: number
  #baseTerm: number
  #terms: number[]
  #offsets: number[]
  #end: number
  #loaded: PersistedState

  private constructor(
    dir: string,
    log: FileHandle,
    loaded: PersistedState,
    base: { index: number; term: number },
    layout: { offsets: number[]; end: number },
  ) {
    this.dir = dir
    this.#log = log
    this.#loaded = loaded
    this.#baseIndex = base.index
    this.#baseTerm = base.term
    this.#terms = loaded.entries.map((e) => e.term)
    this.#offsets = layout.offsets
    this.#end = layout.end
  }

  /** Open (creating if needed) and recover. */
  static async open(dir: string, options: AbortOptions = {}): Promise<RaftStorage> {
    options.signal?.throwIfAborted()
    await mkdir(dir, { recursive: true })
    await rm(join(dir, `${LOG}.tmp`), { force: true })
    const hardState = await readAtomic(join(dir, HARD_STATE), hardStateSchema)
    const snapshot = await readAtomic(join(dir, SNAPSHOT), snapshotSchema)
    let parsed = await readLog(join(dir, LOG))
    if (!parsed) {
      await writeLogFile(dir, snapshot?.index ?? 0, snapshot?.term ?? 0, [])
      parsed = (await readLog(join(dir, LOG))) as ParsedLog
    }
    let entries = parsed.entries
    let base = { index: parsed.baseIndex, term: parsed.baseTerm }
    if (snapshot && snapshot.index < parsed.baseIndex)
      throw new StorageCorruptError(
        `log follows ${parsed.baseIndex}, newer than the snapshot at ${snapshot.index}`,
      )
    if (snapshot && snapshot.index !== parsed.baseIndex) {
      // A crash came between writing the snapshot and rewriting the log: repair now.
      const at =
        snapshot.index === parsed.baseIndex
          ? parsed.baseTerm
          : entries.find((e) => e.index === snapshot.index)?.term
      entries = at === snapshot.term ? entries.filter((e) => e.index > snapshot.index) : []
      await writeLogFile(dir, snapshot.index, snapshot.term, entries)
      parsed = (await readLog(join(dir, LOG))) as ParsedLog
      base = { index: snapshot.index, term: snapshot.term }
    } else if (parsed.tornAt !== undefined) {
      const handle = await open(join(dir, LOG), 'r+')
      await handle.truncate(parsed.tornAt)
      await handle.sync()
      await handle.close()
    }
    const log = await open(join(dir, LOG), 'r+')
    return new RaftStorage(dir, log, { hardState, snapshot, entries }, base, {
      offsets: parsed.offsets,
      end: parsed.end,
    })
  }

  /** What was on disk when opened: feed it to `new Raft(options, state)`. */
  initialState(): PersistedState {
    return this.#loaded
  }

  lastIndex(): number {
    return this.#baseIndex + this.#terms.length
  }

  /** Make a ready durable: snapshot, then entries, then hard state. Resolves once fsynced. */
  async save(ready: Persistable, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (ready.snapshot) await this.saveSnapshot(ready.snapshot)
    if (ready.entries.length > 0) await this.#append(ready.entries)
    if (ready.hardState) await writeAtomic(this.dir, HARD_STATE, encode(ready.hardState))
  }

  /**
   * Persist a snapshot — one installed from the leader, or one the app took
   * to compact the log — and drop the entries it covers. Entries after it
   * survive only if the log agrees with the snapshot at its index.
   */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    await writeAtomic(this.dir, SNAPSHOT, encode(snapshot))
    const term = snapshot.index === this.#baseIndex ? this.#baseTerm : this.#termAt(snapshot.index)
    const keep: Entry[] = []
    if (term === snapshot.term) {
      for (let i = snapshot.index + 1; i <= this.lastIndex(); i++) keep.push(await this.#readEntry(i))
    }
    await this.#log.close()
    await writeLogFile(this.dir, snapshot.index, snapshot.term, keep)
    const parsed = (await readLog(join(this.dir, LOG))) as ParsedLog
    this.#log = await open(join(this.dir, LOG), 'r+')
    this.#baseIndex = snapshot.index
    this.#baseTerm = snapshot.term
    this.#terms = keep.map((e) => e.term)
    this.#offsets = parsed.offsets
    this.#end = parsed.end
  }

  async close(): Promise<void> {
    await this.#log.close().catch(() => {})
  }

  #termAt(index: number): number | undefined {
    const i = index - this.#baseIndex - 1
    return i >= 0 && i < this.#terms.length ? this.#terms[i] : undefined
  }

  async #readEntry(index: number): Promise<Entry> {
    const i = index - this.#baseIndex - 1
    const from = this.#offsets[i]
    const to = i + 1 < this.#offsets.length ? this.#offsets[i + 1] : this.#end
    const buf = new Uint8Array(to - from)
    await this.#log.read(buf, 0, buf.length, from)
    return entrySchema.parse(decode(buf.subarray(RECORD_HEADER))) as Entry
  }

  async #append(entries: Entry[]): Promise<void> {
    const first = entries[0].index
    if (first <= this.#baseIndex)
      throw new StorageCorruptError(`append at ${first} is inside the snapshot (${this.#baseIndex})`)
    if (first > this.lastIndex() + 1)
      throw new StorageCorruptError(`append at ${first} leaves a gap after ${this.lastIndex()}`)
    if (first <= this.lastIndex()) {
      // Conflicting suffix: cut it off before appending the leader's entries.
      const keep = first - this.#baseIndex - 1
      this.#end = this.#offsets[keep]
      this.#offsets.length = keep
      this.#terms.length = keep
      await this.#log.truncate(this.#end)
    }
    const records = entries.map((e) =>
      record(encode({ index: e.index, term: e.term, type: e.type, data: e.data })),
    )
    const buf = concat(records)
    await this.#log.write(buf, 0, buf.length, this.#end)
    await this.#log.datasync()
    for (let i = 0; i < entries.length; i++) {
      this.#offsets.push(this.#end)
      this.#terms.push(entries[i].term)
      this.#end += records[i].length
    }
  }
}

interface ParsedLog {
  baseIndex: number
  baseTerm: number
  entries: Entry[]
  offsets: number[]
  end: number
  /** Byte offset of a torn or corrupt tail record, if any. */
  tornAt?: number
}

async function readLog(path: string): Promise<ParsedLog | undefined> {
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(await readFile(path))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const header = readRecord(bytes, 0)
  if (!header) throw new StorageCorruptError('raft log header is damaged')
  const head = logHeaderSchema.safeParse(safeDecode(header.payload))
  if (!head.success) throw new StorageCorruptError('raft log header is invalid')
  const out: ParsedLog = {
    ...{ baseIndex: head.data.baseIndex, baseTerm: head.data.baseTerm },
    entries: [],
    offsets: [],
    end: header.next,
  }
  let offset = header.next
  while (offset < bytes.length) {
    const rec = readRecord(bytes, offset)
    const entry = rec ? entrySchema.safeParse(safeDecode(rec.payload)) : undefined
    if (!rec || !entry?.success) {
      out.tornAt = offset
      break
    }
    const expected = out.baseIndex + out.entries.length + 1
    if (entry.data.index !== expected)
      throw new StorageCorruptError(`raft log has entry ${entry.data.index} where ${expected} belongs`)
    out.entries.push(entry.data as Entry)
    out.offsets.push(offset)
    offset = rec.next
    out.end = offset
  }
  return out
}

function readRecord(bytes: Uint8Array, offset: number): { payload: Uint8Array; next: number } | undefined {
  if (bytes.length - offset < RECORD_HEADER) return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, RECORD_HEADER)
  const length = view.getUint32(0)
  const sum = view.getUint32(4)
  const start = offset + RECORD_HEADER
  if (bytes.length - start < length) return undefined
  const payload = bytes.subarray(start, start + length)
  if (crc32(payload) !== sum) return undefined
  return { payload, next: start + length }
}

function record(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER + payload.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, payload.length)
  view.setUint32(4, crc32(payload))
  out.set(payload, RECORD_HEADER)
  return out
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function safeDecode(bytes: Uint8Array): unknown {
  try {
    return decode(bytes, { useMaps: false })
  } catch {
    return undefined
  }
}

async function writeLogFile(
  dir: string,
  baseIndex: number,
  baseTerm: number,
  entries: Entry[],
): Promise<void> {
  const parts = [record(encode({ baseIndex, baseTerm }))]
  for (const e of entries)
    parts.push(record(encode({ index: e.index, term: e.term, type: e.type, data: e.data })))
  await writeAtomic(dir, LOG, concat(parts), false)
}

/** temp file, fsync, rename over, fsync the directory: readers see the old or the new file, never a mix. */
async function writeAtomic(dir: string, name: string, payload: Uint8Array, framed = true): Promise<void> {
  const tmp = join(dir, `${name}.tmp`)
  const handle = await open(tmp, 'w')
  try {
    const bytes = framed ? record(payload) : payload
    await handle.write(bytes, 0, bytes.length, 0)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(tmp, join(dir, name))
  const dirHandle = await open(dir, 'r')
  try {
    await dirHandle.sync()
  } finally {
    await dirHandle.close()
  }
}

async function readAtomic<T>(path: string, schema: z.ZodType<T>): Promise<T | undefined> {
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(await readFile(path))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const rec = readRecord(bytes, 0)
  const parsed = rec ? schema.safeParse(safeDecode(rec.payload)) : undefined
  if (!parsed?.success) throw new StorageCorruptError(`${path} is damaged`)
  return parsed.data
}

export function openRaftStorage(dir: string, options: AbortOptions = {}): Promise<RaftStorage> {
  return RaftStorage.open(dir, options)
}
