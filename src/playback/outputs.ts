/**
 * Where the headless player's audio goes: `none`, `wav:FILE` (a recording
 * aligned to the local clock) or `pipe:CMD` (raw s16le 48 kHz stereo on the
 * stdin of a shell command, e.g. `aplay -f S16_LE -r 48000 -c 2`).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs'
import { log } from '../shared/logger.ts'
import { InvalidOutputError } from './errors.ts'
import { wavHeader } from './wav.ts'

const logger = log('playback')

export type OutputSpec = { kind: 'none' } | { kind: 'wav'; path: string } | { kind: 'pipe'; command: string }

export function parseOutput(spec: string): OutputSpec {
  if (spec === 'none' || spec === '') return { kind: 'none' }
  if (spec.startsWith('wav:') && spec.length > 4) return { kind: 'wav', path: spec.slice(4) }
  if (spec.startsWith('pipe:') && spec.length > 5) return { kind: 'pipe', command: spec.slice(5) }
  throw new InvalidOutputError(`output must be none, wav:FILE or pipe:CMD, not ${JSON.stringify(spec)}`)
}

/** What a recording says about itself: sample k was due at local time `recordingStartLocalMs + k·1000/sampleRate`. */
export interface RecordingInfo {
  recordingStartLocalMs: number
  sampleRate: number
  channels: 2
}

/** Id of the WAV chunk (before `data`) holding `RecordingInfo` as JSON; the same JSON is also written to FILE.json. */
export const RECORDING_CHUNK_ID = 'tsyn'

export interface AudioSink {
  write(left: Float32Array, right: Float32Array): void
  close(): Promise<void>
}

function toS16Interleaved(left: Float32Array, right: Float32Array): Buffer {
  const out = Buffer.alloc(left.length * 4)
  for (let i = 0; i < left.length; i++) {
    out.writeInt16LE(Math.round(Math.max(-1, Math.min(1, left[i])) * 32767), i * 4)
    out.writeInt16LE(Math.round(Math.max(-1, Math.min(1, right[i])) * 32767), i * 4 + 2)
  }
  return out
}

export function openSink(spec: OutputSpec, info: RecordingInfo): AudioSink {
  switch (spec.kind) {
    case 'none':
      return { write() {}, async close() {} }
    case 'wav':
      return wavSink(spec.path, info)
    case 'pipe':
      return pipeSink(spec.command)
  }
}

function wavSink(path: string, info: RecordingInfo): AudioSink {
  const json = JSON.stringify(info)
  writeFileSync(`${path}.json`, json)
  const extraChunks = [{ id: RECORDING_CHUNK_ID, body: new TextEncoder().encode(json) }]
  const header = wavHeader({ sampleRate: info.sampleRate, channels: 2, dataBytes: 0, extraChunks })
  const fd = openSync(path, 'w')
  writeSync(fd, header)
  let dataBytes = 0
  let closed = false
  return {
    write(left, right) {
      if (closed) return
      const bytes = toS16Interleaved(left, right)
      writeSync(fd, bytes)
      dataBytes += bytes.length
    },
    async close() {
      if (closed) return
      closed = true
      // Patch the sizes now that the length is known.
      writeSync(
        fd,
        wavHeader({ sampleRate: info.sampleRate, channels: 2, dataBytes, extraChunks }),
        0,
        header.length,
        0,
      )
      closeSync(fd)
    },
  }
}

function pipeSink(command: string): AudioSink {
  const child: ChildProcess = spawn('sh', ['-c', command], { stdio: ['pipe', 'ignore', 'inherit'] })
  let broken = false
  child.on('error', (err) => {
    broken = true
    logger.error('output command failed: %s', err.message)
  })
  child.stdin?.on('error', (err) => {
    broken = true
    logger.error('output pipe closed: %s', err.message)
  })
  child.on('exit', (code) => {
    broken = true
    logger('output command exited with %s', code)
  })
  return {
    write(left, right) {
      if (broken) return
      // No backpressure wait: the device consumes at its own pace and Node buffers the lookahead.
      child.stdin?.write(toS16Interleaved(left, right))
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.stdin?.end()
      // Give the command a moment to drain, then end it: we started it, so we stop it.
      const timer = setTimeout(() => child.kill('SIGTERM'), 500)
      await exited
      clearTimeout(timer)
    },
  }
}
