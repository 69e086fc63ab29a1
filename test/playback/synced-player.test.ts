// Browser player logic against a fake Web Audio context: start time on the party clock with latency and manual offset (also changed mid-song), mute, tiered drift correction (ignore / nudge ≤0.3 % / resync), render-quantum jitter, pause.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import type { Timeline } from '../../src/playback/timeline.ts'
import { correctionFor } from '../../web/src/audio/correction.ts'
import { SyncedPlayer } from '../../web/src/audio/synced-player.ts'

class FakeParam {
  value = 1
  setValueAtTime(value: number) {
    this.value = value
  }
}
class FakeSource {
  buffer: unknown
  playbackRate = new FakeParam()
  started: { when: number; offset: number } | undefined
  stopped = false
  connectedTo: unknown
  connect(to: unknown) {
    this.connectedTo = to
  }
  disconnect() {}
  start(when: number, offset: number) {
    this.started = { when, offset }
  }
  stop() {
    this.stopped = true
  }
}

/** performance.now() and an audio clock that runs `audioDriftPpm` fast against it. */
function world(audioDriftPpm = 0, quantumSeconds = 0) {
  const w = {
    perf: 10_000,
    partyOffset: 1_700_000_000_000, // party = perf + offset
    sources: [] as FakeSource[],
  }
  const context = {
    get currentTime() {
      const t = 3 + ((w.perf - 10_000) / 1000) * (1 + audioDriftPpm / 1e6)
      // Real contexts advance in render quanta (128 frames): reads lag by up to one.
      return quantumSeconds === 0 ? t : Math.floor(t / quantumSeconds) * quantumSeconds
    },
    outputLatency: 0.02,
    baseLatency: 0.005,
    destination: {},
    createBufferSource() {
      const s = new FakeSource()
      w.sources.push(s)
      return s
    },
    async decodeAudioData() {
      return { duration: 600 }
    },
    async resume() {},
  }
  const store = new Map<string, string>()
  const player = new SyncedPlayer({
    audioContext: context as unknown as AudioContext,
    pingPartyClock: async () => ({ t1: w.perf + w.partyOffset, t2: w.perf + w.partyOffset }),
    fetchAudio: async () => new ArrayBuffer(8),
    storage: { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => void store.set(k, v) },
    now: () => w.perf,
    checkIntervalMs: 1e9, // the test drives check() itself
  })
  return { w, context, player, store }
}

const started: SyncedPlayer[] = []
after(() => {
  for (const p of started) p.stop()
})

async function synced(player: SyncedPlayer) {
  started.push(player)
  player.start()
  while (player.clockEstimate() === undefined) await new Promise((r) => setTimeout(r, 5))
}

const timeline = (anchorPartyTime: number, extra: Partial<Timeline> = {}): Timeline => ({
  entryId: 'e1',
  cid: 'song',
  anchorPartyTime,
  anchorPosition: 0,
  paused: false,
  rate: 1,
  ...extra,
})

test('the correction policy ignores < 2 ms, nudges ≤ 0.3 % up to 40 ms, resyncs beyond', () => {
  assert.deepEqual(correctionFor(1.5, false), { kind: 'none', rate: 1 })
  assert.deepEqual(correctionFor(1.5, true), { kind: 'nudge', rate: 1 - 1.5 / 2000 })
  assert.deepEqual(correctionFor(0.5, true), { kind: 'none', rate: 1 })
  assert.deepEqual(correctionFor(-3, false), { kind: 'nudge', rate: 1 + 3 / 2000 })
  assert.deepEqual(correctionFor(30, false), { kind: 'nudge', rate: 0.997 })
  assert.deepEqual(correctionFor(-39, false), { kind: 'nudge', rate: 1.003 })
  assert.deepEqual(correctionFor(41, false), { kind: 'resync' })
  assert.deepEqual(correctionFor(Number.NaN, false), { kind: 'resync' })
})

test('a scheduled start is placed on the audio clock, early by the output latency, late by the manual offset', async () => {
  const { w, player } = world()
  player.manualOffsetMs = 40
  await synced(player)
  const T = w.perf + w.partyOffset + 1000 // one second from now on the party clock
  player.setTimeline(timeline(T), () => '/song')
  await new Promise((r) => setTimeout(r, 10)) // decode
  player.check()
  assert.equal(w.sources.length, 1)
  const started = w.sources[0].started
  assert.ok(started)
  // Heard at perf (now + 1000 + 40 ms): context time 3 + 1.04 − 0.025 latency.
  assert.ok(Math.abs(started.when - (3 + 1.04 - 0.025)) < 1e-6, `when ${started.when}`)
  assert.equal(started.offset, 0)
  player.stop()
})

test('the manual offset is remembered for the device', () => {
  const { player, store } = world()
  player.manualOffsetMs = -120
  assert.equal(store.get('tutti.audio.manualOffsetMs'), '-120')
})

test('an audio clock running 1000 ppm fast is held within a few ms by rate nudges, without resyncs', async () => {
  const { w, player } = world(1000)
  await synced(player)
  player.setTimeline(timeline(w.perf + w.partyOffset - 5000), () => '/song') // joined 5 s into the song
  await new Promise((r) => setTimeout(r, 10))
  player.check()
  assert.equal(w.sources.length, 1)
  let worst = 0
  let minRate = 1
  for (let i = 0; i < 240; i++) {
    w.perf += 250
    player.check()
    const ph = player.playhead()
    if (i > 4) worst = Math.max(worst, Math.abs(ph.errorMs ?? 99))
    minRate = Math.min(minRate, w.sources[0].playbackRate.value)
  }
  assert.equal(w.sources.length, 1, 'no hard resync')
  assert.ok(worst < 4, `worst error ${worst} ms`)
  assert.ok(minRate >= 0.997 && minRate < 1, `rate went down to ${minRate}`)
  player.stop()
})

test('a jump larger than 40 ms restarts the source at the right place; pause stops it', async () => {
  const { w, player } = world()
  await synced(player)
  const anchor = w.perf + w.partyOffset - 5000
  player.setTimeline(timeline(anchor), () => '/song')
  await new Promise((r) => setTimeout(r, 10))
  player.check()
  w.perf += 1000
  player.setTimeline(timeline(anchor, { anchorPosition: 0.1 }), () => '/song') // 100 ms ahead
  assert.equal(w.sources.length, 2)
  assert.equal(w.sources[0].stopped, true)
  const restarted = w.sources[1].started
  assert.ok(restarted)
  // Started 50 ms ahead on the context clock, heard 25 ms (latency) after that: 6.1 s + 75 ms.
  assert.ok(Math.abs(restarted.offset - 6.175) < 1e-6, `offset ${restarted.offset}`)
  player.setTimeline(timeline(anchor, { paused: true, anchorPosition: 6.2 }), () => '/song')
  assert.equal(w.sources[1].stopped, true)
  assert.equal(player.playhead().idle, 'paused')
  player.stop()
})

test('render-quantum steps in currentTime (2.7 ms) do not cause corrections', async () => {
  const { w, player } = world(0, 128 / 48_000)
  await synced(player)
  player.setTimeline(timeline(w.perf + w.partyOffset - 5000), () => '/song')
  await new Promise((r) => setTimeout(r, 10))
  player.check()
  let worst = 0
  for (let i = 0; i < 120; i++) {
    w.perf += 250 + (i % 7) * 0.37 // checks land on every phase of the quantum
    player.check()
    worst = Math.max(worst, Math.abs(player.playhead().errorMs ?? 99))
    assert.equal(
      w.sources[0].playbackRate.value,
      1,
      `nudged at check ${i}, error ${player.playhead().errorMs}`,
    )
  }
  assert.equal(w.sources.length, 1)
  assert.ok(worst < 2, `worst apparent error ${worst} ms`)
  player.stop()
})

test('changing the manual offset mid-song moves what is heard: +100 ms restarts the song 100 ms further back', async () => {
  const { w, player } = world()
  await synced(player)
  player.setTimeline(timeline(w.perf + w.partyOffset - 5000), () => '/song') // 5 s into the song
  await new Promise((r) => setTimeout(r, 10))
  player.check()
  const first = w.sources[0].started
  assert.ok(first)
  // Started 50 ms ahead on the context clock and heard 25 ms later: position 5.075 s.
  assert.ok(Math.abs(first.offset - 5.075) < 1e-6, `offset ${first.offset}`)
  player.manualOffsetMs = 100
  assert.equal(w.sources.length, 2, 'a 100 ms shift is a resync, not a nudge')
  assert.equal(w.sources[0].stopped, true)
  const shifted = w.sources[1].started
  assert.ok(shifted)
  // Heard at the same moment, but 100 ms later in the song's terms: 4.975 s.
  assert.ok(Math.abs(shifted.offset - 4.975) < 1e-6, `offset ${shifted.offset}`)
  w.perf += 250
  player.check()
  assert.ok(Math.abs(player.playhead().errorMs ?? 99) < 1e-6, `error ${player.playhead().errorMs}`)
  player.stop()
})

test('muting silences the device through one gain node; it keeps following the party, and unmuting needs no restart', async () => {
  const { w, context, player } = world()
  const gains: Array<{ gain: { value: number }; connectedTo: unknown }> = []
  Object.assign(context, {
    createGain() {
      const node = {
        gain: { value: 1 },
        connectedTo: undefined as unknown,
        connect(to: unknown) {
          node.connectedTo = to
        },
      }
      gains.push(node)
      return node
    },
  })
  player.muted = true
  await synced(player)
  player.setTimeline(timeline(w.perf + w.partyOffset - 5000), () => '/song')
  await new Promise((r) => setTimeout(r, 10))
  player.check()
  assert.equal(w.sources.length, 1)
  assert.equal(gains.length, 1)
  assert.equal(w.sources[0].connectedTo, gains[0], 'the source plays through the gain node')
  assert.equal(gains[0].connectedTo, context.destination)
  assert.equal(gains[0].gain.value, 0, 'muted')
  w.perf += 250
  player.check()
  assert.equal(player.playhead().playing, true, 'a muted device still follows the party')
  player.muted = false
  assert.equal(gains[0].gain.value, 1)
  w.perf += 250
  player.check()
  assert.equal(w.sources.length, 1, 'unmuting did not restart the song')
  assert.equal(player.playhead().playing, true)
  player.stop()
})
