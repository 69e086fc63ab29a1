// Tag hygiene: control characters stripped, lengths capped, file-name and "Unknown" fallbacks.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_TAG_CHARS, sanitizeTag, songTags } from '../../src/library/sanitize.ts'

test('control characters and bidi overrides are removed, whitespace collapsed', () => {
  assert.equal(sanitizeTag('Hello\x00\x07\x1b[31m World\r\n\t!'), 'Hello [31m World !')
  assert.equal(sanitizeTag('evil\u202Egnp.exe'), 'evil gnp.exe')
  assert.equal(sanitizeTag('  \x01\x02  '), '')
})

test('absurdly long tags are capped with an ellipsis and stay well-formed', () => {
  const capped = sanitizeTag('é'.repeat(100_000))
  assert.equal(Array.from(capped).length, MAX_TAG_CHARS)
  assert.ok(capped.endsWith('…'))
  // A cut must not split an emoji's surrogate pair.
  const emoji = sanitizeTag('🎵'.repeat(1000))
  assert.ok(emoji.isWellFormed())
})

test('unicode titles survive untouched', () => {
  assert.equal(sanitizeTag('Björk — Jóga (日本語) 🎵'), 'Björk — Jóga (日本語) 🎵')
})

test('missing tags fall back to the file name and Unknown Artist/Album', () => {
  assert.deepEqual(
    songTags('/music/Some Band/03 Track\x07.mp3', { title: ' ', artist: undefined, album: 42 }),
    {
      title: '03 Track',
      artist: 'Unknown Artist',
      album: 'Unknown Album',
    },
  )
})

test('noncharacters from a tag decoded out of 0xFF padding are dropped', () => {
  assert.equal(sanitizeTag(`Z${'\uffff'.repeat(40)}`), 'Z')
})
