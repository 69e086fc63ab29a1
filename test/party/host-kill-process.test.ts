// A 5-member party of real `tutti start` processes on loopback plays a song; the host's process is SIGKILLed mid-song: the survivors' playheads (party status) neither stop nor jump by more than 20 ms (plus the measuring slack and clock uncertainty each sample reports), a new host is elected (time printed; asserted only against a bound a loaded CI machine survives — `npm run bench:failover` reports p50/p99), every acknowledged command is in every survivor's state, and commands work afterwards.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, it } from 'node:test'
import { type ApiClient, connectToNode } from '../../src/cli/api-client.ts'
import type { PartyStatus } from '../../src/party/service.ts'
import { type NodeProcess, startNode } from '../helpers/node-process.ts'
import { waitFor } from '../helpers/wait.ts'

const MEMBERS = 5
const MAX_JUMP_MS = 20
/**
 * Kill → a survivor names a new leader. Default settings give ~0.1–0.3 s on a
 * quiet machine (the aim is < 1.5 s); this bound is only what a starved CI
 * machine (event-loop stalls of seconds) still meets: the figure is printed.
 */
const MAX_ELECTION_MS = 10_000

interface Member {
  name: string
  node: NodeProcess
  api: ApiClient
}

interface Sample {
  /** Test-process time (ms) halfway through the request; the status was taken within ±rtt/2 of it. */
  at: number
  rtt: number
  status: PartyStatus
}

const members: Member[] = []
const phases: string[] = []
/** What the restart test needs from the failover test. */
let afterKill:
  | { victim: Member; acked: Map<string, string>; partyId: string; env: NodeJS.ProcessEnv }
  | undefined
let passed = false
after(async () => {
  const logDir = process.env.TUTTI_TEST_LOGDIR // keep every node's output, e.g. with TUTTI_TEST_DEBUG=tutti:*
  if (logDir !== undefined)
    for (const m of members) writeFileSync(join(logDir, `${m.name}.log`), m.node.output.join('\n'))
  if (!passed) console.log(phases.join(', '))
  if (!passed)
    for (const m of members)
      console.log(`--- ${m.name} (${m.node.peerId}):\n${m.node.output.slice(-80).join('\n')}`)
  await Promise.all(members.map((m) => m.node.stop('SIGKILL')))
  await Promise.all(members.map((m) => rm(m.node.dataDir, { recursive: true, force: true })))
})

const now = (): number => performance.timeOrigin + performance.now()

async function sample(m: Member): Promise<Sample> {
  const t0 = now()
  const { party } = await m.api.get<{ party: PartyStatus | null }>('/api/party', AbortSignal.timeout(10_000))
  const t1 = now()
  assert.ok(party !== null, `${m.name} is in the party`)
  return { at: (t0 + t1) / 2, rtt: t1 - t0, status: party }
}

/**
 * Where the playhead is, as "media position since the first queued song
 * started (ms) minus test time (ms)": constant while the party plays on, so
 * any pause or jump shows as a change. Songs follow each other without gaps.
 */
function playheadOffset(s: Sample): number {
  const { nowPlaying, queue } = s.status
  let before = 0
  for (let i = 0; i < nowPlaying.index; i++) before += queue[i].durationSec * 1000
  return before + nowPlaying.position * 1000 - s.at
}

/** The best of a few samples (smallest round trip, so the smallest uncertainty). */
async function bestSample(m: Member, tries = 8): Promise<Sample> {
  let best: Sample | undefined
  for (let i = 0; i < tries; i++) {
    const s = await sample(m)
    if (best === undefined || s.rtt < best.rtt) best = s
    if (best.rtt < 4) break
  }
  return best as Sample
}

async function command(m: Member, command: Record<string, unknown>) {
  return m.api.post<{ index: number; result: { ok: boolean; entryId?: string } }>(
    '/api/party/commands',
    { command },
    // Generous: on a loaded machine one commit can take seconds; a hang still ends.
    AbortSignal.timeout(60_000),
  )
}

it('the party plays on and keeps every acknowledged command when its host is SIGKILLed', {
  timeout: 240_000,
}, async () => {
  // TUTTI_TEST_DEBUG=tutti:* shows the nodes' debug logs when this fails.
  const env = { DEBUG: process.env.TUTTI_TEST_DEBUG ?? '' }
  const began = now()
  const phase = (what: string) => phases.push(`${what} +${((now() - began) / 1000).toFixed(1)} s`)
  const nodes = await Promise.all(
    Array.from({ length: MEMBERS }, () => startNode(['--output', 'none'], { env })),
  )
  for (const [i, node] of nodes.entries())
    members.push({ name: i === 0 ? 'host' : `m${i}`, node, api: await connectToNode(node.dataDir) })
  const [host, ...others] = members
  phase('started')

  const { songs } = await host.api.get<{
    songs: Array<{ cid: string; title: string; artist?: string; durationSec: number }>
  }>('/api/library')
  const ref = (s: (typeof songs)[number]) => ({
    cid: s.cid,
    title: s.title,
    artist: s.artist ?? '',
    durationSec: s.durationSec,
  })
  const longest = [...songs].sort((a, b) => b.durationSec - a.durationSec)[0]

  const created = await host.api.post<{ invite: string }>('/api/party', {
    name: 'Failover',
    permissions: { mode: 'everyone' },
  })
  // One at a time, so that each joiner's welcome lists every member before it (a joiner that does not know
  // a member yet refuses its Raft streams). A join goes to the founder; under load it can fail while the
  // founder is briefly not the leader: try again, as a user would.
  for (const m of others)
    await waitFor(
      async () => {
        await m.api.post('/api/party/join', { invite: created.invite }, AbortSignal.timeout(30_000))
        return true
      },
      `${m.name} to join`,
      { timeoutMs: 90_000, intervalMs: 500 },
    )
  await waitFor(
    async () => {
      const s = (await sample(host)).status
      return s.members.length === MEMBERS && s.members.every((x) => x.replica === 'voter')
    },
    'all five members to be Raft voters',
    { timeoutMs: 60_000 },
  )
  phase('five voters')

  // Set-up commands are retried while the party is briefly leaderless (a starved machine can cost an
  // election), checking the state first so that none is applied twice.
  const settle = async (cmd: Record<string, unknown>, done: (s: PartyStatus) => boolean) =>
    waitFor(
      async () => {
        if (done((await sample(host)).status)) return true
        await command(host, cmd).catch((err: { status?: number }) => {
          if ((err.status ?? 0) < 500) throw err
        })
        return done((await sample(host)).status)
      },
      `${cmd.type} to be acknowledged`,
      { timeoutMs: 90_000, intervalMs: 200 },
    )
  await settle({ type: 'enqueue', song: ref(longest) }, (s) => s.queue.length > 0)
  await settle({ type: 'play' }, (s) => s.nowPlaying.playing)
  await waitFor(
    async () => (await Promise.all(members.map(sample))).every((s) => s.status.nowPlaying.playing),
    'every member to play the song',
    { timeoutMs: 30_000 },
  )

  // Steady state first: every member's party clock settled (a leader change during set-up restarts the
  // members' clock sync). Not a timing check: after the limit the test goes on, with wider bounds.
  await waitFor(
    async () => (await Promise.all(members.map(sample))).every((s) => (s.status.syncErrorMs ?? 0) <= 10),
    'every party clock to settle',
    { timeoutMs: 20_000, intervalMs: 200 },
  ).catch(() => console.log('party clocks did not settle below 10 ms; going on'))
  // Members keep queueing songs up to the moment the host dies, and through the election.
  const acked = new Map<string, string>() // entryId → who queued it
  const ackedBeforeKill = new Set<string>()
  let killed = false
  let failedOver = false
  const failures: string[] = []
  let unanswered = 0
  const queueing = members.map(async (m, i) => {
    for (let n = 0; !failedOver && n < 500; n++) {
      try {
        const { result } = await command(m, { type: 'enqueue', song: ref(songs[(i + n) % songs.length]) })
        if (result.ok && result.entryId !== undefined) {
          acked.set(result.entryId, m.name)
          if (!killed) ackedBeforeKill.add(result.entryId)
        }
      } catch (err) {
        // PARTY_RECONNECTING while there is no host is what a user sees; before the kill it is a failure.
        // A refusal while the host is up is a bug; a timeout or "reconnecting" (5xx) is what a starved
        // machine or the failover itself costs: the command was not acknowledged, and the user retries.
        const status = (err as { status?: number }).status ?? 0
        // ("unavailable" refusals: the host did not answer in time, or our connection to it was replaced)
        const unavailable = /did not answer in time|^stopped$|not connected|aborted/.test(
          (err as Error).message,
        )
        if (status >= 500 || unavailable) unanswered++
        else if (!killed) failures.push(`${m.name}: ${(err as Error).message}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  })

  await waitFor(() => ackedBeforeKill.size >= 8 || failures.length > 0, 'a few commands to be acknowledged', {
    timeoutMs: 90_000,
  })
  // The host is whoever leads now (a loaded machine may have moved it from the founder).
  let leaderId: string | undefined
  await waitFor(
    async () => {
      leaderId = (await sample(host)).status.leader
      return leaderId !== undefined
    },
    'a leader',
    { timeoutMs: 60_000 },
  )
  const victim = members.find((m) => m.node.peerId === leaderId) ?? host
  const survivors = members.filter((m) => m !== victim)
  phase(`killing the host (${victim.name})`)
  const baseline = await Promise.all(survivors.map((m) => bestSample(m)))

  killed = true
  const killedAt = now()
  await victim.node.stop('SIGKILL')

  // Watch every survivor through the election: the playhead must run on, untouched.
  const watched: Sample[][] = survivors.map(() => [])
  let electedAt: number | undefined
  let agreedAt: number | undefined
  let newHost: string | undefined
  await waitFor(
    async () => {
      const round = await Promise.all(survivors.map(sample))
      for (const [i, s] of round.entries()) watched[i].push(s)
      const elected = round.find(
        (s) => s.status.leader !== undefined && s.status.leader !== victim.node.peerId,
      )
      electedAt ??= elected?.at
      // Under heavy load a second election may follow the first: wait until everyone agrees on one host.
      newHost = round[0].status.leader
      const agreed = round.every(
        (s) =>
          s.status.connection === 'connected' &&
          s.status.leader === newHost &&
          s.status.hostPeerId === newHost &&
          newHost !== victim.node.peerId,
      )
      if (agreed) agreedAt = Math.max(...round.map((s) => s.at))
      return agreed
    },
    'the survivors to agree on a new host',
    { timeoutMs: 60_000, intervalMs: 50 },
  )
  assert.ok(newHost !== undefined && electedAt !== undefined && agreedAt !== undefined)
  const electionMs = electedAt - killedAt
  console.log(
    `failover: new leader named ${electionMs.toFixed(0)} ms after the kill, every survivor has it as host after ${(agreedAt - killedAt).toFixed(0)} ms (aim < 1500 ms; bound asserted ${MAX_ELECTION_MS} ms)`,
  )
  assert.ok(
    electionMs <= MAX_ELECTION_MS,
    `no new leader for ${electionMs.toFixed(0)} ms after the kill (bound ${MAX_ELECTION_MS} ms)`,
  )
  failedOver = true
  await Promise.all(queueing)
  assert.deepEqual(failures, [], 'no command was refused while the host was up')

  // A command after the failover is acknowledged (from a member that is not the new host); a user retries
  // while the party says it is reconnecting.
  const asker = survivors.find((m) => m.node.peerId !== newHost) as Member
  let afterwards: Awaited<ReturnType<typeof command>> | undefined
  await waitFor(
    async () => {
      afterwards = await command(asker, { type: 'enqueue', song: ref(songs[0]) })
      return true
    },
    'a command after the failover to be acknowledged',
    { timeoutMs: 30_000, intervalMs: 200 },
  )
  assert.equal(afterwards?.result.ok, true, 'a command after the failover is acknowledged')
  acked.set(afterwards.result.entryId as string, asker.name)

  const final = await Promise.all(survivors.map((m) => bestSample(m)))
  // Printed, not asserted: timing depends on the machine's load.
  console.log(
    `new host ${survivors.find((m) => m.node.peerId === newHost)?.name} elected ${(electedAt - killedAt).toFixed(0)} ms after the kill (±${Math.max(...watched.flat().map((s) => s.rtt)).toFixed(0)} ms polling); ${ackedBeforeKill.size} commands acknowledged before the kill, ${acked.size} in all, ${unanswered} not answered (timeout or reconnecting)`,
  )
  const problems: string[] = []
  for (const [i, m] of survivors.entries()) {
    const base = playheadOffset(baseline[i])
    const jump = playheadOffset(final[i]) - base
    // Measuring slack: each status was taken somewhere within its request's round trip. A node also
    // reports how uncertain its party clock is (syncErrorMs): on a starved machine the party clock is
    // allowed that much error by design (src/party/member.ts clockReady), and a jump within it is not a
    // failover fault (counted up to 30 ms). On a quiet machine both are a few ms: the 20 ms.
    const uncertainty = (s: Sample) => Math.min(30, s.status.syncErrorMs ?? 0)
    const slack =
      (baseline[i].rtt + final[i].rtt) / 2 + Math.max(uncertainty(baseline[i]), uncertainty(final[i]))
    let worst = 0
    for (const s of watched[i]) {
      if (!s.status.nowPlaying.playing) problems.push(`${m.name} stopped playing during the election`)
      const d = playheadOffset(s) - base
      const bound =
        MAX_JUMP_MS + (baseline[i].rtt + s.rtt) / 2 + Math.max(uncertainty(baseline[i]), uncertainty(s))
      if (Math.abs(d) > bound)
        problems.push(
          `${m.name}: playhead moved ${d.toFixed(1)} ms during the election (bound ${bound.toFixed(1)})`,
        )
      if (Math.abs(d) > Math.abs(worst)) worst = d
    }
    console.log(
      `${m.name}: playhead moved ${jump.toFixed(1)} ms across the failover (±${slack.toFixed(1)} ms measuring + clock uncertainty ${uncertainty(baseline[i]).toFixed(1)} → ${uncertainty(final[i]).toFixed(1)} ms), worst sample during the election ${worst.toFixed(1)} ms`,
    )
    if (Math.abs(jump) > MAX_JUMP_MS + slack)
      problems.push(
        `${m.name}: playhead jumped ${jump.toFixed(1)} ms (bound ${(MAX_JUMP_MS + slack).toFixed(1)})`,
      )
  }
  assert.deepEqual(problems, [], 'every survivor played on without a gap or a jump')
  // A member applies a commit when the leader next tells it the commit index: wait for that, then compare.
  for (const m of survivors) {
    const missing = async () => {
      const queued = new Set((await sample(m)).status.queue.map((e) => e.entryId))
      return [...acked].filter(([entryId]) => !queued.has(entryId))
    }
    await waitFor(
      async () => (await missing()).length === 0,
      `${m.name} to apply every acknowledged command`,
      {
        timeoutMs: 30_000,
      },
    ).catch(() => {})
    const lost = await missing()
    assert.deepEqual(lost, [], `${m.name} lacks acknowledged enqueues (entry id, by whom)`)
  }
  phase('checked')
  console.log(phases.join(', '))
  afterKill = { victim, acked, partyId: final[0].status.partyId, env }
  passed = true
})

it('the killed host, restarted on its data directory, is back in the party without a new invite', {
  timeout: 120_000,
}, async (t) => {
  if (afterKill === undefined) return t.skip('the failover test did not get that far')
  passed = false
  const { victim, acked, partyId, env } = afterKill
  victim.node = await startNode(['--output', 'none'], { dataDir: victim.node.dataDir, env })
  victim.api = await connectToNode(victim.node.dataDir)
  let last: PartyStatus | undefined
  await waitFor(
    async () => {
      last = (await sample(victim)).status
      const queued = new Set(last.queue.map((e) => e.entryId))
      return (
        last.partyId === partyId &&
        last.connection === 'connected' &&
        last.nowPlaying.playing &&
        [...acked.keys()].every((id) => queued.has(id))
      )
    },
    'the restarted node to be back in its party, caught up and playing',
    { timeoutMs: 60_000, intervalMs: 200 },
  )
  assert.equal(last?.role, 'member', 'it comes back as a member: the party has another host now')
  passed = true
})
