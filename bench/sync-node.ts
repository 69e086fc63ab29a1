/**
 * One node of `npm run bench:sync`, run as its own process by bench/sync.ts
 * (in the delay profile inside its own network namespace). Its clock is
 * skewed by env: TUTTI_CLOCK_OFFSET_MS (ms) and TUTTI_CLOCK_DRIFT_PPM — the
 * party and the player only ever see the skewed clock. It reports every
 * playhead mapping (in its own clock, plus the skew so the orchestrator can
 * map it to true time) over IPC.
 *
 * The node is wired like the product's (src/node/node.ts): a library, the
 * content swarm, the party service, and the headless player loading songs
 * through the party song loader — from disk when the library holds them,
 * otherwise fetched through the swarm from the party's members.
 *
 * Env: TUTTI_BENCH_ROLE host (creates the party, queues the songs, plays
 * when told) or member (joins the invite it is sent); TUTTI_BENCH_SONGS, a
 * JSON list of the song files this node holds ([] for a node that must fetch
 * everything); TUTTI_BENCH_LISTEN, the multiaddr to listen on.
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { ClockEstimator } from '../src/clock/estimator.ts'
import { hashFile } from '../src/library/content-id.ts'
import { createTuttiLibp2p } from '../src/net/libp2p.ts'
import { createPartyService } from '../src/party/service.ts'
import { createPartySongLoader } from '../src/party/song-loader.ts'
import { decodeAudioFile } from '../src/playback/decode.ts'
import { createHeadlessPlayer } from '../src/playback/headless-player.ts'
import { type Clock, monotonicClock } from '../src/shared/clock.ts'
import { createSwarm } from '../src/swarm/index.ts'
import { FakeLibrary } from '../test/swarm/helpers.ts'

const offsetMs = Number(process.env.TUTTI_CLOCK_OFFSET_MS ?? 0)
const driftPpm = Number(process.env.TUTTI_CLOCK_DRIFT_PPM ?? 0)
const role = process.env.TUTTI_BENCH_ROLE ?? 'member'
const name = process.env.TUTTI_BENCH_NAME ?? role
const output = process.env.TUTTI_BENCH_OUTPUT ?? 'none'
const listen = process.env.TUTTI_BENCH_LISTEN ?? '/ip4/127.0.0.1/tcp/0'
const songFiles = JSON.parse(process.env.TUTTI_BENCH_SONGS ?? '[]') as Array<{
  path: string
  title: string
  durationSec: number
}>

// The skewed clock: local = t + offset + (t − t0)·drift, with t the true (monotonic) time.
const t0 = monotonicClock.now()
const clock: Clock = {
  now: () => {
    const t = monotonicClock.now()
    return t + offsetMs + ((t - t0) * driftPpm) / 1e6
  },
}

// TUTTI_BENCH_CLOCK_TRACE=1: a stderr line per clock sample any estimator in this process takes ("CLK name t0 t1 t2
// t3"), and this node's skew ("SKEW name t0 offsetMs driftPpm"), so a run's samples can be replayed against the truth.
if (process.env.TUTTI_BENCH_CLOCK_TRACE) {
  console.error('SKEW', name, t0, offsetMs, driftPpm)
  const addSample = ClockEstimator.prototype.addSample
  ClockEstimator.prototype.addSample = function (this: ClockEstimator, s) {
    console.error('CLK', name, s.t0, s.t1, s.t2, s.t3)
    return addSample.call(this, s)
  }
}

type Inbound = { type: 'join'; invite: string } | { type: 'play' } | { type: 'stop' }

const send = (msg: unknown) => process.send?.(msg)

const dataDir = await mkdtemp(join(tmpdir(), `tutti-sync-${name}-`))
const library = new FakeLibrary()
const songs: Array<{ cid: string; title: string; durationSec: number }> = []
for (const file of songFiles) {
  const { cid, manifest } = await hashFile(file.path)
  library.add(file.path, cid, manifest).durationSec = file.durationSec
  songs.push({ cid, title: file.title, durationSec: file.durationSec })
}

const key = await generateKeyPair('Ed25519')
const libp2p = await createTuttiLibp2p({ privateKey: key, mdns: false, listen: [listen] })
const swarm = createSwarm({ dataDir, dht: false }, { libp2p, library, clock })
await swarm.start()
const party = createPartyService(
  // Each node its own data directory: the party's Raft log is persisted there.
  {
    dataDir,
    displayName: name,
    // TUTTI_BENCH_ELECTION_TICKS: Raft election timeout in 50 ms ticks (default: the product's).
    ...(process.env.TUTTI_BENCH_ELECTION_TICKS
      ? { electionTicks: Number(process.env.TUTTI_BENCH_ELECTION_TICKS) }
      : {}),
  },
  { libp2p, clock, privateKey: key, library, swarm },
)
const loadSong = createPartySongLoader({
  library,
  swarm,
  providers: () => party.songProviders(),
  decode: decodeAudioFile,
})
const player = createHeadlessPlayer(
  { output, playheadIntervalMs: 100 },
  {
    clock,
    toLocal: (p) => party.localTimeOf(p),
    toParty: (l) => party.partyTimeOf(l),
    loadSong: async (cid, options) => {
      const fromDisk = library.get(cid) !== undefined
      const started = monotonicClock.now()
      const song = await loadSong(cid, options)
      if (song !== undefined) {
        send({ type: 'loaded', cid, fromDisk, trueStart: started, trueLoaded: monotonicClock.now() })
      }
      return song
    },
  },
)
await party.start()
party.attachPlayer(player)
await player.start()
player.on('playhead', (p) => send({ type: 'playhead', mapping: p }))
// Clock samples: our local time and what we believe party time is then (the host's clock is the party clock).
setInterval(() => {
  if (party.status() === undefined) return
  const local = clock.now()
  send({ type: 'clock', local, party: party.partyTimeOf(local) })
}, 200).unref()

send({
  type: 'ready',
  skew: { t0, offsetMs, driftPpm },
  recording: player.recording,
})

if (role === 'host') {
  const { invite } = await party.create({ name: 'bench' })
  for (const song of songs) {
    await party.command({
      type: 'enqueue',
      song: { cid: song.cid, title: song.title, artist: 'bench', durationSec: song.durationSec },
    })
  }
  send({
    type: 'invite',
    invite,
    hostPeerId: libp2p.peerId.toString(),
    entries: party.status()?.queue.map((e) => e.entryId),
  })
}

process.on('message', async (msg: Inbound) => {
  try {
    if (msg.type === 'join') {
      const started = monotonicClock.now()
      // A user whose join fails tries again: count the attempts rather than give up on the run.
      const failures: string[] = []
      for (;;) {
        try {
          await party.join(msg.invite)
          break
        } catch (err) {
          failures.push((err as Error).message)
          if (failures.length >= 5) throw err
          await new Promise((r) => setTimeout(r, 1_000))
        }
      }
      send({ type: 'joined', trueStart: started, trueJoined: monotonicClock.now(), failures })
    } else if (msg.type === 'play') {
      await party.command({ type: 'play' })
      send({ type: 'playing', timeline: party.status()?.timeline })
    } else if (msg.type === 'stop') {
      send({
        type: 'sync-error',
        ms: party.status()?.syncErrorMs,
        term: party.status()?.term,
        leader: party.status()?.leader,
        // Where each queued song stands on this node (for a joiner that never played: why).
        songs: party.status()?.queue.map((e) => {
          const d = swarm.get(e.cid)
          return {
            cid: e.cid.slice(-8),
            onDisk: library.get(e.cid) !== undefined,
            download: d && { state: d.state, percent: d.percent, peers: d.peers },
          }
        }),
        readiness: party.status()?.readiness,
        lastMapping: player.playhead(),
      })
      await player.stop()
      await party.stop()
      await swarm.stop()
      await libp2p.stop()
      send({ type: 'stopped', recording: player.recording })
      setTimeout(() => process.exit(0), 100)
    }
  } catch (err) {
    send({ type: 'error', message: (err as Error).message })
  }
})

// TUTTI_BENCH_STREAMS=1: every 10 s, what this node received per protocol (bytes, muxer chunks, streams) on stderr.
// Data is filed under the stream's protocol as it arrives: an inbound stream's first bytes (the protocol
// negotiation) come before it has one.
if (process.env.TUTTI_BENCH_STREAMS) {
  const seen = new WeakSet<object>()
  const perProtocol = new Map<string, { in: number; inMsgs: number; streams: number }>()
  setInterval(() => {
    for (const conn of libp2p.getConnections()) {
      for (const stream of conn.streams) {
        if (seen.has(stream)) continue
        seen.add(stream)
        let counted = false
        stream.addEventListener('message', (e) => {
          const key = stream.protocol || '(not yet negotiated)'
          const entry = perProtocol.get(key) ?? { in: 0, inMsgs: 0, streams: 0 }
          perProtocol.set(key, entry)
          if (!counted && stream.protocol) {
            entry.streams += 1
            counted = true
          }
          entry.in += (e as unknown as { data: { byteLength: number } }).data.byteLength
          entry.inMsgs += 1
        })
      }
    }
  }, 50).unref()
  setInterval(() => console.error(name, JSON.stringify([...perProtocol])), 10_000).unref()
}
