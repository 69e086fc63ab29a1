/**
 * The delay relay of `npm run bench:sync`'s delay profile, run by bench/sync.ts
 * inside the lab's router namespace (`ip netns exec <router> node …`): see
 * bench/lib/netem-relay.ts. Configured by env TUTTI_RELAY (JSON: routes,
 * delayMs, jitterMs, seed); reports 'listening', and its statistics on 'stop', over IPC.
 */
import { monotonicClock } from '../src/shared/clock.ts'
import { mulberry32 } from '../src/shared/random.ts'
import { createDelayRelay, type RelayOptions, type RelayStats } from './lib/netem-relay.ts'

const config = JSON.parse(process.env.TUTTI_RELAY ?? '{}') as Pick<
  RelayOptions,
  'routes' | 'delayMs' | 'jitterMs'
> & { seed: number }
const relay = createDelayRelay({ ...config, random: mulberry32(config.seed), now: monotonicClock.now })
await relay.start()
process.send?.({ type: 'listening' })
process.on('message', async (msg: { type: string }) => {
  if (msg.type !== 'stop') return
  const { delays, perConnection, ...counts } = relay.stats
  const quantiles = (xs: number[]) => {
    const sorted = xs.sort((a, b) => a - b)
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
    return { p1: q(0.01), p10: q(0.1), p50: q(0.5), p99: q(0.99), max: sorted.at(-1) }
  }
  const flow = ({ delays: flowDelays, ...rest }: RelayStats['perConnection'][number]['up']) => ({
    ...rest,
    delayMs: quantiles(flowDelays),
  })
  process.send?.({
    type: 'stats',
    stats: {
      ...counts,
      delayMs: quantiles(delays),
      perConnection: perConnection.map((c) => ({ ...c, up: flow(c.up), down: flow(c.down) })),
    },
  })
  await relay.stop()
  setTimeout(() => process.exit(0), 100)
})
