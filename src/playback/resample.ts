/**
 * Windowed-sinc resampler (pure, browser-safe). Kernel: sinc with a Kaiser
 * window (β = 7), 16 zero crossings each side, tabulated at 256 points per
 * zero crossing and linearly interpolated. When downsampling the cutoff
 * follows the target Nyquist (×0.97) so nothing folds back as aliasing.
 * Roughly −70 dB stopband: inaudible at party volume; far better than linear
 * interpolation, whose images of a 10 kHz tone sit at about −30 dB.
 * Common rate pairs (integer rates with a small ratio) use a precomputed
 * polyphase filter bank; anything else reads the table per tap.
 */

const ZERO_CROSSINGS = 16
const TABLE_RESOLUTION = 256
const KAISER_BETA = 7

function besselI0(x: number): number {
  let sum = 1
  let term = 1
  for (let k = 1; k < 30; k++) {
    term *= (x / (2 * k)) ** 2
    sum += term
  }
  return sum
}

let kernelTable: Float64Array | undefined

/** sinc(x)·kaiser(x/ZERO_CROSSINGS) for x in [0, ZERO_CROSSINGS], one extra point for interpolation. */
function kernel(): Float64Array {
  if (kernelTable !== undefined) return kernelTable
  const n = ZERO_CROSSINGS * TABLE_RESOLUTION
  const table = new Float64Array(n + 2)
  const norm = besselI0(KAISER_BETA)
  for (let i = 0; i <= n; i++) {
    const x = i / TABLE_RESOLUTION
    const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x)
    const r = x / ZERO_CROSSINGS
    table[i] = (sinc * besselI0(KAISER_BETA * Math.sqrt(Math.max(0, 1 - r * r)))) / norm
  }
  kernelTable = table
  return table
}

/** Output length for `frames` input frames: the same duration, rounded to the nearest frame. */
export function resampledLength(frames: number, fromRate: number, toRate: number): number {
  return Math.round((frames * toRate) / fromRate)
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}

/** Most phases a polyphase bank may have (44.1 → 48 kHz needs 160; 22.05 → 48 kHz 320). */
const MAX_PHASES = 4096

/** Resample one channel from `fromRate` to `toRate`. Identity (a copy) when the rates match. */
export function resampleChannel(input: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (fromRate === toRate) return input.slice()
  const ratio = polyphaseRatio(fromRate, toRate)
  if (ratio !== undefined) return resamplePolyphase(input, ratio.down, ratio.up)
  return resampleByTable(input, fromRate, toRate)
}

interface PolyphaseBank {
  down: number
  up: number
  half: number
  taps: number
  bank: Float32Array
}

const banks = new Map<string, PolyphaseBank>()

/** The rate pair reduced to up/down when a polyphase bank fits it, else undefined. */
function polyphaseRatio(fromRate: number, toRate: number): { down: number; up: number } | undefined {
  if (!Number.isInteger(fromRate) || !Number.isInteger(toRate)) return undefined
  const g = gcd(fromRate, toRate)
  return toRate / g <= MAX_PHASES ? { down: fromRate / g, up: toRate / g } : undefined
}

/**
 * Rational ratio up/down (output frame i sits at input position i·down/up):
 * the kernel has only `up` distinct phases, so each is computed once and the
 * inner loop is a plain dot product (about 10× faster than table lookups).
 */
function polyphaseBank(down: number, up: number): PolyphaseBank {
  const key = `${down}/${up}`
  const cached = banks.get(key)
  if (cached !== undefined) return cached
  const table = kernel()
  const cutoff = up < down ? (up / down) * 0.97 : 1
  const half = Math.ceil(ZERO_CROSSINGS / cutoff)
  const taps = 2 * half
  const bank = new Float32Array(up * taps)
  for (let phase = 0; phase < up; phase++) {
    const frac = phase / up
    for (let k = 0; k < taps; k++) {
      // Tap k reads input frame n − half + 1 + k; its distance from the centre n + frac:
      const t = Math.abs(k - half + 1 - frac) * cutoff * TABLE_RESOLUTION
      const i = Math.floor(t)
      bank[phase * taps + k] =
        i >= table.length - 1 ? 0 : (table[i] + (table[i + 1] - table[i]) * (t - i)) * cutoff
    }
  }
  const made = { down, up, half, taps, bank }
  banks.set(key, made)
  return made
}

/** Output frames [from, to) of `input` resampled through `p`, written into `output`. */
function polyphaseInto(
  input: Float32Array,
  p: PolyphaseBank,
  output: Float32Array,
  from: number,
  to: number,
): void {
  const { down, up, half, taps, bank } = p
  const last = input.length - 1
  for (let o = from; o < to; o++) {
    const num = o * down
    const n = Math.floor(num / up)
    const phase = num - n * up
    const base = phase * taps
    const first = n - half + 1
    let sum = 0
    if (first >= 0 && first + taps - 1 <= last) {
      for (let k = 0; k < taps; k++) sum += input[first + k] * bank[base + k]
    } else {
      for (let k = 0; k < taps; k++) {
        const j = first + k
        if (j >= 0 && j <= last) sum += input[j] * bank[base + k]
      }
    }
    output[o] = sum
  }
}

function resamplePolyphase(input: Float32Array, down: number, up: number): Float32Array {
  const output = new Float32Array(resampledLength(input.length, down, up))
  polyphaseInto(input, polyphaseBank(down, up), output, 0, output.length)
  return output
}

/**
 * Resampling for a song that arrives in pieces: input frames [inFrom, inTo)
 * of `input` (a full-length array) hold audio; computes every output frame
 * whose kernel lies wholly inside that range (or runs off the song's own
 * ends) and returns that output range. Undefined when the rate pair has no
 * polyphase bank (then a song cannot stream; decode it whole).
 */
export function resampleArrived(
  input: Float32Array,
  inFrom: number,
  inTo: number,
  fromRate: number,
  toRate: number,
  output: Float32Array,
  /** Output frames below this are already computed: skip them (a growing range is resampled once). */
  skipBelow = 0,
): { from: number; to: number } | undefined {
  if (fromRate === toRate) {
    const start = Math.max(inFrom, skipBelow)
    if (inTo > start) output.set(input.subarray(start, inTo), start)
    return { from: inFrom, to: inTo }
  }
  const ratio = polyphaseRatio(fromRate, toRate)
  if (ratio === undefined) return undefined
  const p = polyphaseBank(ratio.down, ratio.up)
  // Output o centres on input n = floor(o·down/up) and reads n − half + 1 … n + half.
  const from = inFrom === 0 ? 0 : Math.ceil(((inFrom + p.half - 1) * p.up) / p.down)
  const to = inTo >= input.length ? output.length : Math.floor(((inTo - p.half) * p.up) / p.down)
  const clampedTo = Math.min(output.length, Math.max(from, to))
  polyphaseInto(input, p, output, Math.max(from, skipBelow), clampedTo)
  return { from, to: clampedTo }
}

/** Any ratio: kernel read from the table per tap (slower; used for odd rates only). */
function resampleByTable(input: Float32Array, fromRate: number, toRate: number): Float32Array {
  const table = kernel()
  const outLength = resampledLength(input.length, fromRate, toRate)
  const output = new Float32Array(outLength)
  const step = fromRate / toRate // input frames per output frame
  const cutoff = Math.min(1, toRate / fromRate) * (toRate < fromRate ? 0.97 : 1)
  // Kernel width in input frames: wider when the cutoff is lower.
  const halfWidth = ZERO_CROSSINGS / cutoff
  const tableScale = cutoff * TABLE_RESOLUTION
  for (let i = 0; i < outLength; i++) {
    const center = i * step
    const first = Math.max(0, Math.ceil(center - halfWidth))
    const last = Math.min(input.length - 1, Math.floor(center + halfWidth))
    let sum = 0
    for (let j = first; j <= last; j++) {
      const t = Math.abs(center - j) * tableScale
      const k = t | 0
      if (k >= table.length - 1) continue
      const frac = t - k
      sum += input[j] * (table[k] + (table[k + 1] - table[k]) * frac)
    }
    output[i] = sum * cutoff
  }
  return output
}

export function resampleChannels(channels: Float32Array[], fromRate: number, toRate: number): Float32Array[] {
  return channels.map((c) => resampleChannel(c, fromRate, toRate))
}
