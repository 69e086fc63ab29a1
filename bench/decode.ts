/**
 * `npm run bench:decode` — cost of getting a song ready to play: decoding a
 * 30 s 44.1 kHz stereo MP3 (128 kbit/s, lamejs) and WAV, and resampling to
 * 48 kHz with the windowed-sinc resampler. Prints median and spread over
 * rounds, and seconds of audio per second of CPU. Writes bench/results/decode.json.
 * Env: DECODE_BENCH_ROUNDS (default 5).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Mp3Encoder } from '@breezystack/lamejs'
import { decodeAudio } from '../src/playback/decode.ts'
import { resampleChannel } from '../src/playback/resample.ts'
import { wavHeader } from '../src/playback/wav.ts'

const ROUNDS = Number(process.env.DECODE_BENCH_ROUNDS ?? 5)
const RATE = 44_100
const SECONDS = 30
const frames = RATE * SECONDS
const left = Float32Array.from({ length: frames }, (_, i) => 0.4 * Math.sin((2 * Math.PI * 440 * i) / RATE))
const right = Float32Array.from({ length: frames }, (_, i) => 0.4 * Math.sin((2 * Math.PI * 660 * i) / RATE))
const toS16 = (x: Float32Array) => Int16Array.from(x, (v) => Math.round(v * 32767))

const encoder = new Mp3Encoder(2, RATE, 128)
const parts: Uint8Array[] = []
const l16 = toS16(left)
const r16 = toS16(right)
for (let i = 0; i < frames; i += 1152 * 20)
  parts.push(encoder.encodeBuffer(l16.subarray(i, i + 1152 * 20), r16.subarray(i, i + 1152 * 20)))
parts.push(encoder.flush())
const mp3 = new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))))
const pcm = Buffer.alloc(frames * 4)
for (let i = 0; i < frames; i++) {
  pcm.writeInt16LE(l16[i], i * 4)
  pcm.writeInt16LE(r16[i], i * 4 + 2)
}
const wav = new Uint8Array(
  Buffer.concat([wavHeader({ sampleRate: RATE, channels: 2, dataBytes: pcm.length }), pcm]),
)

async function time(fn: () => unknown): Promise<number[]> {
  const times: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now()
    await fn()
    times.push(performance.now() - t)
  }
  return times.sort((a, b) => a - b)
}

const cases: Record<string, () => unknown> = {
  'mp3 decode → 48 kHz': () => decodeAudio(mp3),
  'mp3 decode, native rate': () => decodeAudio(mp3, { outputSampleRate: RATE }),
  'wav parse → 48 kHz': () => decodeAudio(wav),
  'resample one channel 44.1 → 48 kHz': () => resampleChannel(left, RATE, 48_000),
}
const results: Record<string, unknown> = {}
for (const [name, fn] of Object.entries(cases)) {
  const t = await time(fn)
  const median = t[Math.floor(t.length / 2)]
  results[name] = {
    medianMs: median,
    minMs: t[0],
    maxMs: t.at(-1),
    audioSecondsPerCpuSecond: (SECONDS * 1000) / median,
  }
  console.log(
    `${name}: median ${median.toFixed(0)} ms (min ${t[0].toFixed(0)}, max ${(t.at(-1) as number).toFixed(0)}) for ${SECONDS} s of audio = ${((SECONDS * 1000) / median).toFixed(0)}× real time`,
  )
}
const out = resolve(import.meta.dirname, 'results')
await mkdir(out, { recursive: true })
await writeFile(resolve(out, 'decode.json'), JSON.stringify(results, null, 2))
