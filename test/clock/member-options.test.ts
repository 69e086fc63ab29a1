// A party's first minute replayed: the clock samples three members of two bench:sync runs over a jittery path really
// took (test/clock/fixtures/bench-sync-delay.json), fed to the estimator as a member configures it, with the true
// offset known from the clocks' injected skew.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { ClockEstimator, type ClockEstimatorOptions, type ClockSample } from '../../src/clock/estimator.ts'
import { MEMBER_CLOCK_OPTIONS } from '../../src/party/member.ts'

interface TracedMember {
  name: string
  trueReference: { atZero: number; rate: number }
  samples: Array<[number, number, number, number]>
}

const trace = JSON.parse(
  readFileSync(new URL('./fixtures/bench-sync-delay.json', import.meta.url), 'utf8'),
) as {
  members: TracedMember[]
}

/** |error| of party time every 200 ms of local time, from 3 s after a member's first sample, as bench:sync samples it. */
function replay(options: ClockEstimatorOptions): number[] {
  const errors: number[] = []
  for (const member of trace.members) {
    const est = new ClockEstimator(options)
    const truth = (local: number) => member.trueReference.atZero + local * member.trueReference.rate
    let next = 0
    const end = member.samples.at(-1)?.[3] ?? 0
    for (let local = 3_000; local <= end; local += 200) {
      while (next < member.samples.length && member.samples[next][3] <= local) {
        const [t0, t1, t2, t3] = member.samples[next++]
        est.addSample({ t0, t1, t2, t3 } satisfies ClockSample)
      }
      errors.push(Math.abs(est.toReference(local) - truth(local)))
    }
  }
  return errors.sort((a, b) => a - b)
}

test("a jittery party's first minute, replayed: members' party clocks within 5.5 ms (p99), 6.5 ms at worst", () => {
  const errors = replay(MEMBER_CLOCK_OPTIONS)
  const p99 = errors[Math.floor(0.99 * (errors.length - 1))]
  const worst = errors.at(-1) ?? 0
  console.log(
    `replayed: p99 ${p99.toFixed(2)} ms, worst ${worst.toFixed(2)} ms over ${errors.length} readings`,
  )
  // Here 4.8 and 5.2 ms. Drift fitted after 5 s (the members' setting before) gave 6.6 and 7.5 ms: fitted over the
  // first seconds of a jittery path, the drift was hundreds of ppm off.
  assert.ok(p99 < 5.5, `p99 ${p99.toFixed(2)} ms`)
  assert.ok(worst < 6.5, `worst ${worst.toFixed(2)} ms`)
})

test('on a quiet LAN path a member fits drift after 5 s: 8 s in at +200 ppm, within 0.05 ms', () => {
  const est = new ClockEstimator(MEMBER_CLOCK_OPTIONS)
  const reference = (local: number) => 2_500 + local * (1 + 200e-6)
  let errorAt8s = Number.NaN
  for (let t0 = 0, i = 0; t0 <= 8_000; t0 += 50, i++) {
    const forward = 0.1 + 0.05 * Math.sin(i) // ±50 µs, deterministic
    const backward = 0.1 + 0.05 * Math.cos(i)
    const t1 = reference(t0 + forward)
    const t3 = t0 + forward + 0.02 + backward
    est.addSample({ t0, t1, t2: t1 + 0.02, t3 })
    errorAt8s = Math.abs(est.toReference(t3) - reference(t3))
  }
  // Holding drift at 0 until 10 s (the jittery-path rule) is 0.78 ms off here.
  assert.ok(errorAt8s < 0.05, `${errorAt8s.toFixed(3)} ms off at 8 s`)
})
