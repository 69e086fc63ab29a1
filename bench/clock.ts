/**
 * `npm run bench:clock` — accuracy of the pure clock estimator on synthetic
 * networks (seeded): per profile, 200 runs of 5 minutes of exchanges every
 * 2 s with random drift in ±500 ppm; prints the median / p95 / max of the
 * offset error (after removing the half-asymmetry no two-way exchange can
 * see) and of the drift error, plus the estimator's cost per sample.
 * Writes bench/results/clock.json. Env: CLOCK_BENCH_RUNS (default 200).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { ClockEstimator } from '../src/clock/estimator.ts'
import { mulberry32 } from '../src/shared/random.ts'

const RUNS = Number(process.env.CLOCK_BENCH_RUNS ?? 200)

const profiles = [
  { name: 'lan (0.3 ms, jitter 0.2 ms)', base: 0.15, asym: 0, jitter: 0.2, loss: 0.01 },
  { name: 'wifi (3 ms, jitter 3 ms, 1 ms asym)', base: 1.5, asym: 1, jitter: 3, loss: 0.05 },
  { name: 'internet (25 ms, jitter 5 ms, 4 ms asym, 20% loss)', base: 10, asym: 4, jitter: 5, loss: 0.2 },
]

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]

const results: Record<string, unknown> = {}
for (const p of profiles) {
  const offsetErr: number[] = []
  const driftErr: number[] = []
  let samples = 0
  let elapsed = 0
  for (let seed = 0; seed < RUNS; seed++) {
    const random = mulberry32(seed)
    const exp = (m: number) => -m * Math.log(1 - random())
    const drift = (random() * 2 - 1) * 500e-6
    const offset = (random() - 0.5) * 1e6
    const est = new ClockEstimator()
    const start = 1.7e12
    let end = start
    const began = performance.now()
    for (let t = start; t < start + 300_000; t += 2000) {
      if (random() < p.loss) continue
      const f = p.base + p.asym + exp(p.jitter)
      const b = p.base + exp(p.jitter)
      const t1 = offset + (t + f) * (1 + drift)
      est.addSample({ t0: t, t1, t2: t1 + 0.05, t3: t + f + 0.05 + b })
      est.estimate(t + f + b) // as the shell would after every sample
      samples++
      end = t + f + b
    }
    elapsed += performance.now() - began
    const e = est.estimate(end)
    if (e === undefined) continue
    offsetErr.push(Math.abs(e.offsetMs - (offset + end * drift) - p.asym / 2))
    driftErr.push(Math.abs(e.driftPpm - drift * 1e6))
  }
  const row = {
    runs: RUNS,
    offsetErrorMs: {
      p50: quantile(offsetErr, 0.5),
      p95: quantile(offsetErr, 0.95),
      max: Math.max(...offsetErr),
    },
    driftErrorPpm: {
      p50: quantile(driftErr, 0.5),
      p95: quantile(driftErr, 0.95),
      max: Math.max(...driftErr),
    },
    usPerSample: (elapsed * 1000) / samples,
  }
  results[p.name] = row
  console.log(
    `${p.name}: offset error p50 ${row.offsetErrorMs.p50.toFixed(3)} / p95 ${row.offsetErrorMs.p95.toFixed(3)} / max ${row.offsetErrorMs.max.toFixed(3)} ms; ` +
      `drift error p50 ${row.driftErrorPpm.p50.toFixed(2)} / p95 ${row.driftErrorPpm.p95.toFixed(2)} ppm; ${row.usPerSample.toFixed(1)} µs per sample+estimate`,
  )
}
const out = resolve(import.meta.dirname, 'results')
await mkdir(out, { recursive: true })
await writeFile(resolve(out, 'clock.json'), JSON.stringify(results, null, 2))
