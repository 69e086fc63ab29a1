// The generated demo library: six or more distinct, tagged, music-like tracks in WAV and MP3, deterministic, made once.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile, rm, stat } from 'node:fs/promises'
import { extname } from 'node:path'
import { test } from 'node:test'
import { MPEGDecoder } from 'mpg123-decoder'
import { parseFile } from 'music-metadata'
import { DEMO_ALBUM, ensureDemoLibrary, renderDemoFile } from '../../src/library/demo/generate.ts'
import { tempDir } from './fixtures.ts'

/** Mono samples of a 16-bit PCM WAV (the data chunk located by walking the RIFF chunks). */
function wavSamples(bytes: Buffer): Float32Array {
  let offset = 12
  while (offset + 8 <= bytes.length) {
    const id = bytes.toString('ascii', offset, offset + 4)
    const size = bytes.readUInt32LE(offset + 4)
    if (id === 'data') {
      const data = bytes.subarray(offset + 8, offset + 8 + size)
      const out = new Float32Array(data.length / 2)
      for (let i = 0; i < out.length; i++) out[i] = data.readInt16LE(i * 2) / 32768
      return out
    }
    offset += 8 + size + (size % 2)
  }
  throw new Error('no data chunk')
}

async function mp3Samples(bytes: Buffer): Promise<Float32Array> {
  const decoder = new MPEGDecoder()
  await decoder.ready
  try {
    return decoder.decode(new Uint8Array(bytes)).channelData[0]
  } finally {
    decoder.free()
  }
}

/** RMS of consecutive 100 ms windows. */
function windowRms(samples: Float32Array, windowLength: number): number[] {
  const out: number[] = []
  for (let start = 0; start + windowLength <= samples.length; start += windowLength) {
    let sum = 0
    for (let i = start; i < start + windowLength; i++) sum += samples[i] * samples[i]
    out.push(Math.sqrt(sum / windowLength))
  }
  return out
}

test('the demo library has six distinct, tagged, audible tracks in two formats and is generated once', async (t) => {
  const dir = await tempDir('demo')
  t.after(() => rm(dir, { recursive: true }))
  const started = performance.now()
  const paths = await ensureDemoLibrary(dir)
  t.diagnostic(`first generation took ${(performance.now() - started).toFixed(0)} ms`)

  assert.ok(paths.length >= 6)
  assert.ok(new Set(paths.map((p) => extname(p))).size >= 2, 'at least two formats')
  const titles = new Set<string>()
  const hashes = new Set<string>()
  let totalSec = 0
  for (const path of paths) {
    const meta = await parseFile(path)
    assert.ok(meta.common.title !== undefined && meta.common.title.length > 0, `${path} has a title`)
    assert.ok((meta.common.artist ?? '').length > 0, `${path} has an artist`)
    assert.equal(meta.common.album, DEMO_ALBUM)
    const duration = meta.format.duration ?? 0
    assert.ok(duration >= 20 && duration <= 45, `${path} lasts ${duration} s`)
    totalSec += duration
    titles.add(meta.common.title)

    const bytes = await readFile(path)
    hashes.add(createHash('sha256').update(bytes).digest('hex'))
    const samples = path.endsWith('.wav') ? wavSamples(bytes) : await mp3Samples(bytes)
    const sampleRate = meta.format.sampleRate ?? 44_100
    const channels = path.endsWith('.wav') ? (meta.format.numberOfChannels ?? 1) : 1
    const rms = windowRms(samples, Math.round((sampleRate * channels) / 10))
    const mean = rms.reduce((a, b) => a + b, 0) / rms.length
    const spread = Math.sqrt(rms.reduce((a, b) => a + (b - mean) ** 2, 0) / rms.length)
    assert.ok(mean > 0.02, `${path} is audible (mean RMS ${mean})`)
    // Notes and drums come and go: loudness moves, unlike silence or one steady tone.
    assert.ok(spread / mean > 0.1, `${path} has dynamics (RMS spread/mean ${spread / mean})`)
  }
  assert.equal(titles.size, paths.length, 'every track has its own title')
  assert.equal(hashes.size, paths.length, 'every track has its own content')
  assert.ok(totalSec >= 120, `a few minutes of music in total (${totalSec} s)`)

  // Deterministic: rendering a track again (here on this thread, not in a worker) gives the same
  // bytes, so every node's demo library has the same content ids.
  assert.deepEqual(Buffer.from(renderDemoFile(4)), await readFile(paths[4]))

  // A second start keeps the files as they are.
  const mtimes = await Promise.all(paths.map(async (p) => (await stat(p)).mtimeMs))
  assert.deepEqual(await ensureDemoLibrary(dir), paths)
  assert.deepEqual(await Promise.all(paths.map(async (p) => (await stat(p)).mtimeMs)), mtimes)
})
