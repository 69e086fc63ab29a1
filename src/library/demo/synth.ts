/**
 * Pure, seeded synthesis of short demo songs: a chord pad, a bassline, a
 * melody with envelopes and a small drum kit (sine kick, noise snare and
 * hi-hat). Each track spec picks its own key, mode, tempo, progression and
 * timbre, so the demo library sounds like six different pieces. No I/O.
 */

import { mulberry32 } from '../../shared/random.ts'

export type Wave = 'sine' | 'triangle' | 'saw' | 'square'

export interface TrackSpec {
  title: string
  artist: string
  seed: number
  bpm: number
  /** MIDI note of the key's root (e.g. 57 = A3). */
  rootMidi: number
  mode: 'major' | 'minor' | 'dorian'
  /** Scale degrees (0-based) of the chord roots, one chord per bar. */
  progression: number[]
  bars: number
  lead: Wave
  pad: Wave
  bass: Wave
  /** Lead note density: probability an eighth-note slot starts a note. */
  density: number
  swing: number
}

export interface Pcm {
  sampleRate: number
  left: Float32Array
  right: Float32Array
}

const SCALES: Record<TrackSpec['mode'], number[]> = {
  major: [0, 2, 4, 5, 7, 9, 11],
  minor: [0, 2, 3, 5, 7, 8, 10],
  dorian: [0, 2, 3, 5, 7, 9, 10],
}

const midiToHz = (midi: number) => 440 * 2 ** ((midi - 69) / 12)

/** Scale degree (may exceed 7 or be negative) to a MIDI note in the track's key. */
function degreeToMidi(spec: TrackSpec, degree: number): number {
  const scale = SCALES[spec.mode]
  const octave = Math.floor(degree / 7)
  const step = ((degree % 7) + 7) % 7
  return spec.rootMidi + octave * 12 + scale[step]
}

function oscillator(wave: Wave, phase: number): number {
  const p = phase - Math.floor(phase)
  switch (wave) {
    case 'sine':
      return Math.sin(2 * Math.PI * p)
    case 'triangle':
      return 4 * Math.abs(p - 0.5) - 1
    case 'saw':
      return 2 * p - 1
    case 'square':
      return p < 0.5 ? 1 : -1
  }
}

interface Envelope {
  attack: number
  decay: number
  sustain: number
  release: number
}

/**
 * Adds one note to both channels. A one-pole low-pass tames the naive
 * waveforms' harshness (and most of their aliasing) cheaply.
 */
function addNote(
  pcm: Pcm,
  startSec: number,
  lengthSec: number,
  hz: number,
  amp: number,
  wave: Wave,
  env: Envelope,
  pan: number,
  cutoffHz: number,
): void {
  const sr = pcm.sampleRate
  const start = Math.floor(startSec * sr)
  const gateEnd = Math.floor(lengthSec * sr)
  const total = gateEnd + Math.floor(env.release * sr)
  const end = Math.min(pcm.left.length, start + total)
  const inc = hz / sr
  const lp = 1 - Math.exp((-2 * Math.PI * cutoffHz) / sr)
  const gl = amp * Math.cos(((pan + 1) * Math.PI) / 4)
  const gr = amp * Math.sin(((pan + 1) * Math.PI) / 4)
  const attack = Math.max(1, env.attack * sr)
  const decay = Math.max(1, env.decay * sr)
  const release = Math.max(1, env.release * sr)
  let phase = 0
  let filtered = 0
  let level = 0
  for (let i = start; i < end; i++) {
    const t = i - start
    if (t < attack) level = t / attack
    else if (t < attack + decay) level = 1 - (1 - env.sustain) * ((t - attack) / decay)
    else if (t < gateEnd) level = env.sustain
    else level = env.sustain * Math.max(0, 1 - (t - gateEnd) / release)
    filtered += lp * (oscillator(wave, phase) - filtered)
    phase += inc
    const v = filtered * level
    pcm.left[i] += v * gl
    pcm.right[i] += v * gr
  }
}

function addKick(pcm: Pcm, atSec: number, amp: number): void {
  const sr = pcm.sampleRate
  const start = Math.floor(atSec * sr)
  const end = Math.min(pcm.left.length, start + Math.floor(0.35 * sr))
  let phase = 0
  for (let i = start; i < end; i++) {
    const t = (i - start) / sr
    const hz = 45 + 110 * Math.exp(-t * 30)
    phase += hz / sr
    const v = Math.sin(2 * Math.PI * phase) * Math.exp(-t * 9) * amp
    pcm.left[i] += v
    pcm.right[i] += v
  }
}

function addNoiseHit(
  pcm: Pcm,
  atSec: number,
  amp: number,
  decay: number,
  bright: number,
  rand: () => number,
  toneHz = 0,
): void {
  const sr = pcm.sampleRate
  const start = Math.floor(atSec * sr)
  const end = Math.min(pcm.left.length, start + Math.floor((5 / decay) * sr))
  let prev = 0
  for (let i = start; i < end; i++) {
    const t = (i - start) / sr
    const white = rand() * 2 - 1
    // Differencing white noise tilts it towards the highs (a crude high-pass).
    const noise = bright * (white - prev) + (1 - bright) * white
    prev = white
    const tone = toneHz > 0 ? 0.5 * Math.sin(2 * Math.PI * toneHz * t) : 0
    const v = (noise + tone) * Math.exp(-t * decay) * amp
    pcm.left[i] += v * 0.9
    pcm.right[i] += v
  }
}

export function trackDurationSec(spec: TrackSpec): number {
  return (spec.bars * 4 * 60) / spec.bpm + 1.5
}

/** Renders a track to stereo float PCM in [-1, 1]. Deterministic for a given spec. */
export function renderTrack(spec: TrackSpec, sampleRate: number): Pcm {
  const rand = mulberry32(spec.seed)
  const length = Math.ceil(trackDurationSec(spec) * sampleRate)
  const pcm: Pcm = { sampleRate, left: new Float32Array(length), right: new Float32Array(length) }
  const beat = 60 / spec.bpm
  const bar = 4 * beat

  for (let b = 0; b < spec.bars; b++) {
    const barStart = b * bar
    const chordRoot = spec.progression[b % spec.progression.length]
    const lastBars = b >= spec.bars - 1

    // Pad: a triad held for the bar, slow attack.
    for (const offset of [0, 2, 4]) {
      const hz = midiToHz(degreeToMidi(spec, chordRoot + offset))
      addNote(
        pcm,
        barStart,
        bar * 0.95,
        hz,
        0.07,
        spec.pad,
        { attack: 0.25, decay: 0.4, sustain: 0.8, release: 0.5 },
        offset === 2 ? -0.4 : 0.4,
        1800,
      )
    }

    // Bass: root (and fifth) on eighths or quarters depending on the seed.
    const bassSteps = spec.bpm < 100 ? 4 : 8
    for (let s = 0; s < bassSteps; s++) {
      const degree = chordRoot + (s % 4 === 3 ? 4 : 0) - 7
      const hz = midiToHz(degreeToMidi(spec, degree) - 12)
      const len = bar / bassSteps
      addNote(
        pcm,
        barStart + s * len,
        len * 0.8,
        hz,
        0.22,
        spec.bass,
        { attack: 0.005, decay: 0.12, sustain: 0.6, release: 0.05 },
        0,
        700,
      )
    }

    // Melody: a seeded random walk over the scale, biased to chord tones.
    let degree = chordRoot + 7
    for (let s = 0; s < 8; s++) {
      if (rand() > spec.density) continue
      const step = [-2, -1, -1, 0, 1, 1, 2, 3][Math.floor(rand() * 8)]
      degree = Math.max(chordRoot + 3, Math.min(chordRoot + 12, degree + step))
      const swing = s % 2 === 1 ? spec.swing * beat * 0.5 : 0
      const at = barStart + s * beat * 0.5 + swing
      const held = rand() < 0.3 ? beat : beat * 0.45
      const hz = midiToHz(degreeToMidi(spec, degree))
      addNote(
        pcm,
        at,
        held,
        hz,
        0.12,
        spec.lead,
        { attack: 0.01, decay: 0.15, sustain: 0.5, release: 0.2 },
        (rand() - 0.5) * 0.6,
        3500,
      )
    }

    // Drums: kick on 1 and 3 (plus a seeded pickup), snare on 2 and 4, hats on eighths.
    if (!lastBars || b === 0) {
      addKick(pcm, barStart, 0.55)
      addKick(pcm, barStart + 2 * beat, 0.55)
      if (rand() < 0.4) addKick(pcm, barStart + 3.5 * beat, 0.4)
      addNoiseHit(pcm, barStart + beat, 0.22, 18, 0.3, rand, 190)
      addNoiseHit(pcm, barStart + 3 * beat, 0.22, 18, 0.3, rand, 190)
      for (let h = 0; h < 8; h++)
        addNoiseHit(
          pcm,
          barStart + h * beat * 0.5 + (h % 2 ? spec.swing * beat * 0.5 : 0),
          h % 2 ? 0.05 : 0.08,
          60,
          0.95,
          rand,
        )
    }
  }
  normalise(pcm, 0.85)
  return pcm
}

/** Soft-clips and scales so the peak sits at `peak`. */
function normalise(pcm: Pcm, peak: number): void {
  let max = 0
  for (const ch of [pcm.left, pcm.right]) {
    for (let i = 0; i < ch.length; i++) {
      ch[i] = Math.tanh(ch[i] * 1.2)
      const a = Math.abs(ch[i])
      if (a > max) max = a
    }
  }
  if (max === 0) return
  const gain = peak / max
  for (const ch of [pcm.left, pcm.right]) for (let i = 0; i < ch.length; i++) ch[i] *= gain
}

export function toInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length)
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i]))
    out[i] = Math.round(v * 32767)
  }
  return out
}
