/** Small audio files for library tests: short synthesised WAV/MP3 songs and hostile variants. */
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeId3v23, encodeMp3, encodeWav, type Tags } from '../../src/library/demo/encode.ts'
import { renderTrack, type TrackSpec } from '../../src/library/demo/synth.ts'

const BASE: TrackSpec = {
  title: 'fixture',
  artist: 'fixture',
  seed: 1,
  bpm: 240,
  rootMidi: 60,
  mode: 'major',
  progression: [0, 3],
  bars: 1,
  lead: 'triangle',
  pad: 'sine',
  bass: 'sine',
  density: 0.5,
  swing: 0,
}

export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `tutti-${prefix}-`))
}

/** A ~2.5 s stereo WAV; `seed` changes the notes, so different seeds give different content ids. */
export function wavBytes(tags: Tags, seed = 1): Buffer {
  return encodeWav(renderTrack({ ...BASE, seed }, 8000), tags)
}

/** MPEG audio frames only (no tag), ~2.5 s at 22.05 kHz mono. */
export function mp3Frames(seed = 1): Buffer {
  const mp3 = encodeMp3(
    renderTrack({ ...BASE, seed }, 22_050),
    { title: '', artist: '', album: '' },
    { kbps: 32, mono: true },
  )
  const tagSize = 10 + ((mp3[6] << 21) | (mp3[7] << 14) | (mp3[8] << 7) | mp3[9])
  return mp3.subarray(tagSize)
}

export function mp3Bytes(tags: Tags, seed = 1): Buffer {
  return Buffer.concat([encodeId3v23(tags), mp3Frames(seed)])
}

function synchsafe(n: number): Buffer {
  return Buffer.from([(n >> 21) & 0x7f, (n >> 14) & 0x7f, (n >> 7) & 0x7f, n & 0x7f])
}

/** An ID3v2.3 tag with a title and an APIC (embedded picture) frame of `pictureBytes` bytes. */
export function id3WithPicture(title: string, pictureBytes: number): Buffer {
  const text = Buffer.concat([Buffer.from([0x01, 0xff, 0xfe]), Buffer.from(title, 'utf16le')])
  const tit2 = Buffer.concat([frameHeader('TIT2', text.length), text])
  const apicBody = Buffer.concat([
    Buffer.from('\0image/jpeg\0\x03\0', 'latin1'),
    Buffer.alloc(pictureBytes, 0xd8),
  ])
  const apic = Buffer.concat([frameHeader('APIC', apicBody.length), apicBody])
  const frames = Buffer.concat([tit2, apic])
  return Buffer.concat([Buffer.from('ID3\x03\x00\x00', 'latin1'), synchsafe(frames.length), frames])
}

function frameHeader(id: string, size: number): Buffer {
  const head = Buffer.alloc(10)
  head.write(id, 0, 'ascii')
  head.writeUInt32BE(size, 4)
  return head
}

/** An ID3 tag whose frames lie about their sizes, then valid audio frames. */
export function brokenId3Mp3(): Buffer {
  const liar = Buffer.concat([frameHeader('TIT2', 0x7fffffff), Buffer.from('\x01\xff\xfeZ\0', 'latin1')])
  const tag = Buffer.concat([
    Buffer.from('ID3\x03\x00\x00', 'latin1'),
    synchsafe(liar.length + 200),
    liar,
    Buffer.alloc(200, 0xff),
  ])
  return Buffer.concat([tag, mp3Frames(7)])
}

export async function writeFiles(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes)
}
