/**
 * The demo library a node plays when the user gave it no music: six short,
 * license-free pieces synthesised on first start from fixed seeds (so every
 * node generates byte-identical files, and so the same content ids — handy
 * for trying the swarm between two demo nodes). Half WAV, half MP3.
 */
import { mkdir, rename, stat, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { encodeMp3, encodeWav, type Tags } from './encode.ts'
import { renderTrack, type TrackSpec } from './synth.ts'

export const DEMO_ALBUM = 'Tutti Demo'
const DEMO_ARTIST = 'The Tutti Generators'

interface DemoTrack extends TrackSpec {
  format: 'wav' | 'mp3'
}

export const DEMO_TRACKS: DemoTrack[] = [
  {
    title: 'Morning Loop',
    artist: DEMO_ARTIST,
    seed: 101,
    bpm: 96,
    rootMidi: 60,
    mode: 'major',
    progression: [0, 4, 5, 3],
    bars: 15,
    lead: 'triangle',
    pad: 'saw',
    bass: 'sine',
    density: 0.6,
    swing: 0,
    format: 'wav',
  },
  {
    title: 'Night Drive',
    artist: DEMO_ARTIST,
    seed: 202,
    bpm: 118,
    rootMidi: 57,
    mode: 'minor',
    progression: [0, 5, 2, 6],
    bars: 13,
    lead: 'saw',
    pad: 'triangle',
    bass: 'saw',
    density: 0.75,
    swing: 0,
    format: 'mp3',
  },
  {
    title: 'Copper Steps',
    artist: 'Sine Collective',
    seed: 303,
    bpm: 84,
    rootMidi: 62,
    mode: 'dorian',
    progression: [0, 3, 0, 4],
    bars: 13,
    lead: 'square',
    pad: 'sine',
    bass: 'triangle',
    density: 0.5,
    swing: 0.3,
    format: 'wav',
  },
  {
    title: 'Paper Kites',
    artist: 'Sine Collective',
    seed: 404,
    bpm: 132,
    rootMidi: 65,
    mode: 'major',
    progression: [0, 5, 3, 4],
    bars: 14,
    lead: 'sine',
    pad: 'saw',
    bass: 'square',
    density: 0.85,
    swing: 0,
    format: 'mp3',
  },
  {
    title: 'Low Tide',
    artist: 'Harbour Echo',
    seed: 505,
    bpm: 72,
    rootMidi: 55,
    mode: 'minor',
    progression: [0, 3, 4, 0],
    bars: 10,
    lead: 'triangle',
    pad: 'square',
    bass: 'sine',
    density: 0.4,
    swing: 0.15,
    format: 'wav',
  },
  {
    title: 'Signal Fire',
    artist: 'Harbour Echo',
    seed: 606,
    bpm: 108,
    rootMidi: 59,
    mode: 'dorian',
    progression: [0, 6, 3, 4],
    bars: 12,
    lead: 'saw',
    pad: 'triangle',
    bass: 'saw',
    density: 0.7,
    swing: 0.2,
    format: 'mp3',
  },
]

const WAV_SAMPLE_RATE = 44_100
/** lamejs is slow (about 6x real time at 44.1 kHz stereo); 22.05 kHz mono keeps first start quick. */
const MP3_SAMPLE_RATE = 22_050
const MP3_KBPS = 64

export function demoFileName(track: DemoTrack, index: number): string {
  return `${String(index + 1).padStart(2, '0')} - ${track.title}.${track.format}`
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).size > 0
  } catch {
    return false
  }
}

/** Renders and encodes one demo track. CPU-bound; runs in a worker thread. */
export function renderDemoFile(index: number): Uint8Array {
  const track = DEMO_TRACKS[index]
  const tags: Tags = { title: track.title, artist: track.artist, album: DEMO_ALBUM }
  if (track.format === 'wav') return encodeWav(renderTrack(track, WAV_SAMPLE_RATE), tags)
  const pcm = renderTrack(track, MP3_SAMPLE_RATE)
  return encodeMp3(pcm, tags, { kbps: MP3_KBPS, mono: true })
}

/** A worker thread that renders demo tracks one at a time (CPU-bound work off the main thread). */
function startRenderWorker() {
  const worker = new Worker(new URL('./render-worker.ts', import.meta.url))
  return {
    render(index: number): Promise<Uint8Array> {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err)
        const onExit = (code: number) => reject(new Error(`demo render worker exited with code ${code}`))
        worker.once('message', (bytes: Uint8Array) => {
          worker.off('error', onError)
          worker.off('exit', onExit)
          resolve(bytes)
        })
        worker.once('error', onError)
        worker.once('exit', onExit)
        worker.postMessage(index)
      })
    },
    stop: () => worker.terminate(),
  }
}

/**
 * Makes sure `dir` holds the demo tracks and returns their paths. Files that
 * exist are kept; missing ones are rendered (in parallel worker threads),
 * written to a temporary name and renamed into place, so an interrupted
 * first start never leaves a half file.
 */
export async function ensureDemoLibrary(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const paths = DEMO_TRACKS.map((track, index) => join(dir, demoFileName(track, index)))
  const missing: number[] = []
  for (const [index, path] of paths.entries()) if (!(await exists(path))) missing.push(index)
  // Slowest (MP3) first so the pool does not end on one long job.
  missing.sort((a, b) => Number(DEMO_TRACKS[b].format === 'mp3') - Number(DEMO_TRACKS[a].format === 'mp3'))
  const lanes = Math.max(1, Math.min(availableParallelism(), 4, missing.length))
  let next = 0
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      const worker = startRenderWorker()
      try {
        while (next < missing.length) {
          const index = missing[next++]
          // Where worker threads are unavailable, render on this thread (slower, same bytes).
          const bytes = await worker.render(index).catch(() => renderDemoFile(index))
          const temp = `${paths[index]}.${process.pid}.partial`
          await writeFile(temp, bytes)
          await rename(temp, paths[index])
        }
      } finally {
        await worker.stop()
      }
    }),
  )
  return paths
}
