// The text index: accent/case folding, prefixes, typo tolerance bounded by term length, field filters, ranking, removal.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { allowedTypos, boundedEditDistance, TextIndex, tokenize } from '../../src/search/text-index.ts'

function index(): TextIndex {
  const idx = new TextIndex()
  idx.add('1', { title: 'Hey Jude', artist: 'The Beatles', album: 'Past Masters' })
  idx.add('2', { title: 'Beat It', artist: 'Michael Jackson', album: 'Thriller' })
  idx.add('3', { title: 'Ça plane pour moi', artist: 'Plastic Bertrand', album: 'AN1' })
  idx.add('4', { title: 'Jóga', artist: 'Björk', album: 'Homogenic' })
  idx.add('5', { title: 'Yesterday', artist: 'The Beatles', album: 'Help!' })
  return idx
}
const ids = (hits: Array<{ id: string }>) => hits.map((h) => h.id)

test('tokenize folds case and accents (NFKD) and splits on punctuation', () => {
  assert.deepEqual(tokenize('Ça Plane, pour MOI!'), ['ca', 'plane', 'pour', 'moi'])
  assert.deepEqual(tokenize('Björk — Jóga'), ['bjork', 'joga'])
  assert.deepEqual(tokenize('ﬁne'), ['fine']) // compatibility ligature
})

test('accent- and case-insensitive both ways', () => {
  const idx = index()
  assert.deepEqual(ids(idx.search({ text: 'bjork' })), ['4'])
  assert.deepEqual(ids(idx.search({ text: 'JOGA' })), ['4'])
  assert.deepEqual(ids(idx.search({ text: 'ça' })), ['3'])
})

test('prefix matching, and exact words rank above prefixes', () => {
  const idx = index()
  assert.deepEqual(ids(idx.search({ text: 'yester' })), ['5'])
  const beat = ids(idx.search({ text: 'beat' }))
  assert.equal(beat[0], '2', '"Beat It" has the exact word in its title')
  assert.ok(beat.includes('1') && beat.includes('5'), 'Beatles songs match by prefix')
})

test('typo tolerance grows with term length and is bounded', () => {
  assert.equal(allowedTypos('abc'), 0)
  assert.equal(allowedTypos('beatls'), 1)
  assert.equal(allowedTypos('yesterdy'), 2)
  const idx = index()
  assert.deepEqual(ids(idx.search({ text: 'beatels' })).sort(), ['1', '5'], 'a transposition is one typo')
  assert.deepEqual(ids(idx.search({ text: 'thriler' })), ['2'], 'a missing letter is one typo')
  assert.deepEqual(ids(idx.search({ text: 'yestrdya' })), ['5'], 'two typos in a long word')
  assert.deepEqual(ids(idx.search({ text: 'jdxe' })), [], 'four letters: one typo, not two')
  assert.deepEqual(ids(idx.search({ text: 'hwy' })), [], 'three letters: no typos at all')
  assert.deepEqual(ids(idx.search({ text: 'xyzzyplugh' })), [])
})

test('every term must match (AND), and field filters restrict where', () => {
  const idx = index()
  assert.deepEqual(ids(idx.search({ text: 'beatles jude' })), ['1'])
  assert.deepEqual(ids(idx.search({ text: 'beatles thriller' })), [])
  assert.deepEqual(ids(idx.search({ artist: 'beatles' })).sort(), ['1', '5'])
  assert.deepEqual(ids(idx.search({ title: 'beatles' })), [], 'no title contains it')
  assert.deepEqual(ids(idx.search({ text: 'yesterday', artist: 'beatles' })), ['5'])
})

test('title matches outrank album matches', () => {
  const idx = new TextIndex()
  idx.add('album', { title: 'Other', artist: 'X', album: 'Thriller' })
  idx.add('title', { title: 'Thriller', artist: 'Y', album: 'Z' })
  assert.deepEqual(ids(idx.search({ text: 'thriller' })), ['title', 'album'])
})

test('removed documents no longer match; re-adding replaces', () => {
  const idx = index()
  idx.remove('4')
  assert.deepEqual(ids(idx.search({ text: 'bjork' })), [])
  idx.add('1', { title: 'Something', artist: 'The Beatles', album: 'Abbey Road' })
  assert.deepEqual(ids(idx.search({ text: 'jude' })), [])
  assert.deepEqual(ids(idx.search({ text: 'abbey' })), ['1'])
  assert.equal(idx.size, 4)
})

test('bounded edit distance stops early beyond the bound', () => {
  assert.equal(boundedEditDistance('kitten', 'sitting', 3), 3)
  assert.equal(boundedEditDistance('kitten', 'sitting', 1), 2)
  assert.equal(boundedEditDistance('a', 'abcdef', 2), 3)
  assert.equal(boundedEditDistance('same', 'same', 0), 0)
  assert.equal(boundedEditDistance('beatels', 'beatles', 2), 1)
})
