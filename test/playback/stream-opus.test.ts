// An Ogg Opus that is still arriving starts at the party's position: the page to decode from is found by its
// granule positions, the decoder is fed the headers and then the pages from there, and the 80 ms before the
// position are decoded and thrown away. The samples it holds are the whole-file decode's, before and after the
// rest arrives. Also: the page search (chained pages only, whole packets only, saying where it landed when it
// lands late) and where the audio pages start.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decodeAudio } from '../../src/playback/decode.ts'
import { oggPageAt, opusAudioStart } from '../../src/playback/opus-headers.ts'
import { findOpusSeekPage } from '../../src/playback/stream-opus.ts'
import { readOpusHead } from '../../src/playback/stream-sequential.ts'
import { streamSong } from '../../src/playback/stream-song.ts'
import { oggOpusBytes } from '../library/containers.ts'
import { gatedSource, hookedSource, SAME, streamsFromThePosition, worstDifference } from './stream-helpers.ts'

const tags = { title: 't', artist: 'a', album: 'b' }
/** 40 s of 20 ms CELT frames of 160 pseudo-random bytes (noise once decoded), a page a second: ~8 KB a second. */
const opus = ({ packetsPerPage = 50 } = {}) => oggOpusBytes(40, tags, { frameBytes: 160, packetsPerPage })

/** Every page of stream `serial` in `bytes`. */
function pages(bytes: Uint8Array, serial: number) {
  const found = []
  for (let at = 0; at < bytes.length; ) {
    const page = oggPageAt(bytes, at, serial) ?? assert.fail(`a page at ${at}`)
    found.push(page)
    at += page.length
  }
  return found
}

describe('streaming an Ogg Opus from the position', () => {
  for (const [what, packetsPerPage] of [
    ['a page a second', 50],
    ['pages of 4 s', 200],
  ] as const) {
    it(`plays the position with only the bytes around it in, equal to the whole-file decode (${what})`, async () => {
      const bytes = opus({ packetsPerPage })
      const head = readOpusHead(bytes) ?? assert.fail('an OpusHead')
      const audioStart = opusAudioStart(bytes, head.serial) ?? assert.fail('the audio pages')
      // Reads from the first audio page on wait (the download has the head, the tail and the pieces at the
      // position); the beginning is filled in once they are released.
      const { source, release } = gatedSource(bytes, audioStart + 1)
      await streamsFromThePosition(bytes, source, release, 20, 48_000)
    })
  }

  it('starts a page early when the position is right at a page start, so the decoder has settled by then', async () => {
    const bytes = opus()
    const head = readOpusHead(bytes) ?? assert.fail('an OpusHead')
    const audioStart = opusAudioStart(bytes, head.serial) ?? assert.fail('the audio pages')
    const { source, release } = gatedSource(bytes, audioStart + 1)
    // The song streams from 0.25 s before the position: from song frame 20 s × 48 000 − 312 (the pre-skip),
    // where the page after granule position 960 000 starts. Decoded from that very page, its first 20 ms
    // differ from the whole-file decode (by ~1.5e-4 here).
    await streamsFromThePosition(bytes, source, release, (20 * 48_000 - 312) / 48_000 + 0.25, 48_000)
  })

  it('decodes from the first audio page when the position is within the first 80 ms', async () => {
    const bytes = opus()
    const { source } = gatedSource(bytes, 0)
    const whole = await decodeAudio(bytes)
    const song =
      (await streamSong(source, { startAt: 0.05, aheadSec: 0, outputSampleRate: 48_000, backSec: 0 })) ??
      assert.fail()
    const ready = song.ready ?? { from: 0, to: song.frames }
    assert.ok(ready.from <= 2400 && ready.to > 2400 + 24_000, `ready ${JSON.stringify(ready)}`)
    const { worst } = worstDifference(song.channels, whole.channels, ready.from, ready.to)
    assert.ok(worst < SAME, `equal to the whole-file decode (worst ${worst})`)
  })

  it('ends with a CorruptAudioError when random bytes stand where the pages after the head should be', async () => {
    const bytes = Buffer.from(opus())
    let x = 99
    for (let at = 64 * 1024; at < bytes.length - 64 * 1024; at++) {
      x = (x * 16807) % 2147483647
      bytes[at] = x & 0xff
    }
    const { source } = gatedSource(bytes, 0)
    // No page is found near the position: the search steps back to the pages in the head and decodes on from
    // there, through what the decoder makes of the noise (libopus conceals invalid packets), until the file
    // ends short of its length. The error reaches the loader, which then waits for the whole file.
    const ended = Promise.withResolvers<Error | undefined>()
    await streamSong(source, { startAt: 20, outputSampleRate: 48_000, onDone: ended.resolve }).catch(
      (err: Error) => ended.resolve(err),
    )
    const err = await ended.promise
    assert.equal(err?.name, 'CorruptAudioError')
    assert.match(err?.message ?? '', /ended after \d+ of its 1919688 frames/)
  })

  it('over a slow link, starts at a page a little past the position rather than read back for one', async () => {
    // 20 s at ~10 KB/s, then 20 s at ~20 KB/s, pages of 0.2 s: the position's share of the bytes lies past it.
    const bytes = oggOpusBytes(40, tags, {
      frameBytes: 200,
      packetsPerPage: 10,
      laterFrameBytes: { from: 20, bytes: 400 },
    })
    const whole = await decodeAudio(bytes)
    const reads: number[] = []
    const source = hookedSource(bytes, async (start) => {
      reads.push(start)
      // The first look at the position takes 2.5 s (a slow uplink); everything else is there.
      if (start > 64 * 1024 && start < bytes.length - 64 * 1024 && reads.length <= 3)
        await new Promise((resolve) => setTimeout(resolve, 2500))
    })
    const song =
      (await streamSong(source, { startAt: 20, aheadSec: 0, outputSampleRate: 48_000 })) ?? assert.fail()
    const ready = song.ready ?? assert.fail('still arriving')
    const position = (20 - 0.25) * 48_000
    assert.ok(ready.from > position, `started past the position (${ready.from} > ${position})`)
    assert.ok(ready.from - position < 2.5 * 48_000, `by less than the look took (${ready.from - position})`)
    const { worst } = worstDifference(song.channels, whole.channels, ready.from, ready.to)
    assert.ok(worst < SAME, `equal to the whole-file decode (worst ${worst})`)
    // No read went back before the first look.
    const look = reads.find((start) => start > 64 * 1024 && start < bytes.length - 64 * 1024) ?? assert.fail()
    assert.ok(reads.filter((start) => start > 64 * 1024 && start < look).length === 0, `reads ${reads}`)
  })

  it('finds the latest page that starts with a whole packet at or before the target, chained to the next', () => {
    const bytes = opus()
    const serial = readOpusHead(bytes)?.serial ?? assert.fail('an OpusHead')
    const all = pages(bytes, serial)
    // Pages 2.. are audio; page k ends at granule 48 000 (k − 1).
    const target = 10 * 48_000 + 100
    const found = findOpusSeekPage(bytes, 0, bytes.length, serial, target)
    const expected = all.findIndex((p) => p.granule > target) // the first page past the target: decode from it
    assert.equal(found.page?.at, all[expected]!.at)
    assert.equal(found.startGranule, all[expected - 1]!.granule)
    assert.ok(found.startGranule! <= target && found.startGranule! + 48_000 > target)
    // A capture pattern inside the audio, not followed by a page, is no page.
    const fake = Buffer.from(bytes)
    const inside = all[expected]!.at + 100
    fake.write('OggS', inside, 'latin1')
    fake[inside + 4] = 0
    fake.writeUInt32LE(serial, inside + 14)
    assert.equal(findOpusSeekPage(fake, 0, fake.length, serial, target).page?.at, all[expected]!.at)
    // A page that begins with the rest of a packet is no place to start: the one after it is.
    const continued = Buffer.from(bytes)
    continued[all[expected]!.at + 5] |= 0x01
    const moved = findOpusSeekPage(continued, 0, continued.length, serial, target)
    assert.equal(moved.page?.at, all[expected - 1]!.at, 'the page before it, which starts whole')
    // Read from a window that starts past the target's page: nothing qualifies, and it says where it landed.
    const late = all[expected + 3]!.at
    const lateFound = findOpusSeekPage(bytes.subarray(late), late, bytes.length, serial, target)
    assert.equal(lateFound.page, undefined)
    assert.equal(lateFound.earliest?.at, late)
    assert.equal(lateFound.beyond, true)
    // The first place past the target to start instead (a slow link): the page after the window's first page.
    assert.equal(lateFound.after?.page.at, all[expected + 4]!.at)
    assert.equal(lateFound.after?.startGranule, all[expected + 3]!.granule)
    assert.equal(found.after?.page.at, all[expected + 1]!.at, 'with the target in view, the page after it')
  })

  for (const [what, fullPages] of [
    ['two pages', 1],
    ['30 pages, past the head (cover art)', 29],
  ] as const) {
    it(`a comment packet over ${what}: the audio start is found, the file decodes (it failed in the decoder) and streams from the position`, async () => {
      const bytes = opus()
      const serial = readOpusHead(bytes)?.serial ?? assert.fail('an OpusHead')
      const all = pages(bytes, serial)
      /** A page holding `body` under the lacing values `lacing` (the CRC is not checked by the search). */
      const page = (lacing: number[], body: Uint8Array, flags: number) => {
        const header = Buffer.alloc(27)
        header.write('OggS', 0, 'latin1')
        header[5] = flags
        header.writeUInt32LE(serial, 14)
        header[26] = lacing.length
        return Buffer.concat([header, Buffer.from(lacing), body])
      }
      // The comment packet (OpusTags, then filler) in pages of 16 full segments (it goes on), the rest on a
      // last page, as muxers that keep pages near 4 KiB write it.
      const tagsPacket = bytes.subarray(all[1]!.at + 27 + bytes[all[1]!.at + 26]!, all[2]!.at)
      const full = 255 * 16
      const comments = Buffer.concat([
        tagsPacket,
        Buffer.alloc(full * fullPages + 100 - tagsPacket.length, 0x61),
      ])
      const commentPages = Array.from({ length: fullPages }, (_, k) =>
        page(Array(16).fill(255), comments.subarray(k * full, (k + 1) * full), k === 0 ? 0 : 0x01),
      )
      commentPages.push(page([100], comments.subarray(fullPages * full), 0x01))
      const spanning = Buffer.concat([
        bytes.subarray(0, all[1]!.at),
        ...commentPages,
        bytes.subarray(all[2]!.at),
      ])
      const audioAt = all[1]!.at + commentPages.reduce((n, p) => n + p.length, 0)
      assert.equal(opusAudioStart(spanning, serial), audioAt)
      const { source, release } = gatedSource(spanning, audioAt + 1)
      await streamsFromThePosition(spanning, source, release, 20, 48_000)
    })
  }

  it('finds where the audio starts: after the identification and comment pages, inside the head', () => {
    const bytes = opus()
    const serial = readOpusHead(bytes)?.serial ?? assert.fail('an OpusHead')
    const all = pages(bytes, serial)
    assert.equal(opusAudioStart(bytes, serial), all[2]!.at)
    assert.equal(all[2]!.granule, 50 * 960, 'the first audio page holds the first second')
    // Cut inside the comment page: not known from these bytes (the stream reads on until it is).
    assert.equal(opusAudioStart(bytes.subarray(0, all[2]!.at - 1), serial), undefined)
  })
})
