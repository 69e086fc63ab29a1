// Raft persistence: hard state, log and snapshot survive restarts; torn tails, conflicting suffixes and interrupted snapshots recover safely.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, test } from 'node:test'
import { openRaftStorage } from '../../src/raft/storage.ts'
import type { Entry, Snapshot } from '../../src/raft/types.ts'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raft-storage-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const text = new TextEncoder()
function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = []
  for (let i = from; i <= to; i++)
    out.push({ index: i, term, type: 'normal', data: text.encode(`e${i}t${term}`) })
  return out
}
const summary = (es: Entry[]) => es.map((e) => `${e.index}@${e.term}`).join(' ')

test('hard state and entries survive a restart', async () => {
  const s = await openRaftStorage(dir)
  assert.deepEqual(s.initialState(), { hardState: undefined, snapshot: undefined, entries: [] })
  await s.save({
    hardState: { term: 3, vote: 'peerA', commit: 2 },
    entries: entries(1, 4, 3),
    snapshot: null,
  })
  await s.close()
  const again = await openRaftStorage(dir)
  const state = again.initialState()
  assert.deepEqual(state.hardState, { term: 3, vote: 'peerA', commit: 2 })
  assert.deepEqual(state.entries, entries(1, 4, 3))
  await again.close()
})

test('entries from a new leader replace a conflicting suffix on disk', async () => {
  const s = await openRaftStorage(dir)
  await s.save({ hardState: null, entries: entries(1, 5, 1), snapshot: null })
  await s.save({ hardState: null, entries: entries(3, 4, 2), snapshot: null })
  await s.save({ hardState: null, entries: entries(5, 5, 2), snapshot: null })
  await s.close()
  const again = await openRaftStorage(dir)
  assert.equal(summary(again.initialState().entries), '1@1 2@1 3@2 4@2 5@2')
  await again.close()
})

test('a torn last record is cut off and the log stays appendable', async () => {
  const s = await openRaftStorage(dir)
  await s.save({ hardState: null, entries: entries(1, 3, 1), snapshot: null })
  await s.close()
  const size = (await stat(join(dir, 'log'))).size
  await truncate(join(dir, 'log'), size - 3) // crash in the middle of writing entry 3
  const again = await openRaftStorage(dir)
  assert.equal(summary(again.initialState().entries), '1@1 2@1')
  await again.save({ hardState: null, entries: entries(3, 4, 2), snapshot: null })
  await again.close()
  const third = await openRaftStorage(dir)
  assert.equal(summary(third.initialState().entries), '1@1 2@1 3@2 4@2')
  await third.close()
})

test('a record with a bad checksum at the tail is treated as torn', async () => {
  const s = await openRaftStorage(dir)
  await s.save({ hardState: null, entries: entries(1, 2, 1), snapshot: null })
  await s.close()
  const bytes = new Uint8Array(await readFile(join(dir, 'log')))
  bytes[bytes.length - 1] ^= 0xff
  await writeFile(join(dir, 'log'), bytes)
  const again = await openRaftStorage(dir)
  assert.equal(summary(again.initialState().entries), '1@1')
  await again.close()
})

test('compaction keeps the tail after the snapshot', async () => {
  const s = await openRaftStorage(dir)
  await s.save({ hardState: { term: 1, vote: null, commit: 5 }, entries: entries(1, 6, 1), snapshot: null })
  const snap: Snapshot = {
    index: 4,
    term: 1,
    conf: { voters: ['a', 'b'], learners: ['c'] },
    data: text.encode('state@4'),
  }
  await s.saveSnapshot(snap)
  await s.save({ hardState: null, entries: entries(7, 7, 1), snapshot: null })
  await s.close()
  const again = await openRaftStorage(dir)
  assert.deepEqual(again.initialState().snapshot, snap)
  assert.equal(summary(again.initialState().entries), '5@1 6@1 7@1')
  await again.close()
})

test('an installed snapshot that disagrees with the log replaces all of it', async () => {
  const s = await openRaftStorage(dir)
  await s.save({ hardState: null, entries: entries(1, 8, 1), snapshot: null })
  const snap: Snapshot = { index: 5, term: 2, conf: { voters: ['a'], learners: [] }, data: text.encode('x') }
  await s.save({ hardState: { term: 2, vote: null, commit: 5 }, entries: entries(6, 6, 2), snapshot: snap })
  await s.close()
  const again = await openRaftStorage(dir)
  assert.equal(again.initialState().snapshot?.index, 5)
  assert.equal(summary(again.initialState().entries), '6@2')
  await again.close()
})

test('a crash between writing a snapshot and rewriting the log drops a stale tail', async () => {
  const s = await openRaftStorage(dir)
  await s.save({ hardState: null, entries: entries(1, 8, 1), snapshot: null })
  await s.close()
  const oldLog = await readFile(join(dir, 'log'))
  const s2 = await openRaftStorage(dir)
  await s2.saveSnapshot({ index: 5, term: 2, conf: { voters: ['a'], learners: [] }, data: text.encode('x') })
  await s2.close()
  await writeFile(join(dir, 'log'), oldLog) // as if the log rewrite never happened
  const again = await openRaftStorage(dir)
  // Entries 6..8 of term 1 do not follow the snapshot's entry 5 of term 2: they must not survive.
  assert.equal(summary(again.initialState().entries), '')
  assert.equal(again.lastIndex(), 5)
  await again.close()
})

test('a damaged hard state file is reported, not silently reset', async () => {
  const s = await openRaftStorage(dir)
  await s.save({ hardState: { term: 7, vote: 'a', commit: 0 }, entries: [], snapshot: null })
  await s.close()
  await writeFile(join(dir, 'hardstate'), new Uint8Array([1, 2, 3]))
  await assert.rejects(openRaftStorage(dir), { name: 'StorageCorruptError' })
})
