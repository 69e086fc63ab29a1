// Voter selection: at most five voters chosen by connectivity, one membership change at a time, failed voters replaced; measured RTTs reach the choice (pure health view, and the log asks the party for them).
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { applyConfChange } from '../../src/raft/raft.ts'
import type { ConfState } from '../../src/raft/types.ts'
import { createRaftPartyLog } from '../../src/replication/raft-party-log.ts'
import {
  type HealthInput,
  type MemberHealth,
  memberHealth,
  nextMembershipChange,
  targetVoterCount,
} from '../../src/replication/voters.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'
import { newLibp2p } from './cluster.ts'
import { foundingState, PARTY_ID } from './fixtures/party.ts'

const member = (peerId: string, extra: Partial<MemberHealth> = {}): MemberHealth => ({
  peerId,
  healthy: true,
  uptimeMs: 60_000,
  ...extra,
})

/** Apply changes until the policy is satisfied; returns the final conf and how many single changes it took. */
function settle(
  conf: ConfState,
  members: MemberHealth[],
  leader: string,
): { conf: ConfState; steps: number } {
  let steps = 0
  for (;;) {
    const change = nextMembershipChange(conf, members, leader)
    if (change === undefined) return { conf, steps }
    conf = applyConfChange(conf, change)
    if (++steps > 100) throw new Error('membership never settles')
  }
}

describe('voters', () => {
  it('targets an odd number of voters, at most five', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 50].map((n) => targetVoterCount(n)),
      [1, 1, 3, 3, 5, 5, 5],
    )
  })

  it('a party of 40 ends with five voters (leader included) and 35 learners', () => {
    const members = Array.from({ length: 40 }, (_, i) => member(`p${String(i).padStart(2, '0')}`))
    const { conf } = settle({ voters: ['p00'], learners: [] }, members, 'p00')
    assert.equal(conf.voters.length, 5)
    assert.ok(conf.voters.includes('p00'))
    assert.equal(conf.learners.length, 35)
  })

  it('prefers long-lived, then low-latency members as voters', () => {
    const members = [
      member('leader'),
      member('fresh', { uptimeMs: 1_000, rttMs: 5 }),
      member('old-slow', { uptimeMs: 3_600_000, rttMs: 200 }),
      member('old-fast', { uptimeMs: 3_600_000, rttMs: 10 }),
    ]
    const { conf } = settle({ voters: ['leader'], learners: [] }, members, 'leader')
    assert.deepEqual([...conf.voters].sort(), ['leader', 'old-fast', 'old-slow'])
    assert.deepEqual(conf.learners, ['fresh'])
  })

  it('replaces a failed voter with a healthy learner, one change at a time', () => {
    const conf: ConfState = { voters: ['a', 'b', 'c'], learners: ['d'] }
    const members = [member('a'), member('b'), member('c', { healthy: false }), member('d')]
    const first = nextMembershipChange(conf, members, 'a')
    assert.deepEqual(first, { type: 'removeNode', node: 'c' })
    const { conf: after } = settle(conf, members, 'a')
    assert.deepEqual([...after.voters].sort(), ['a', 'b', 'd'])
    assert.deepEqual(after.learners, ['c'])
  })

  it('keeps a failed voter when nobody could take its seat', () => {
    const conf: ConfState = { voters: ['a', 'b', 'c'], learners: [] }
    const members = [member('a'), member('b'), member('c', { healthy: false })]
    assert.equal(nextMembershipChange(conf, members, 'a'), undefined)
  })

  it('removes members who left, and never the leader', () => {
    const conf: ConfState = { voters: ['a', 'b', 'c'], learners: ['x'] }
    assert.deepEqual(nextMembershipChange(conf, [member('b'), member('c')], 'a'), {
      type: 'removeNode',
      node: 'x',
    })
    const { conf: after } = settle(conf, [member('b'), member('c')], 'a')
    assert.ok(after.voters.includes('a'))
    assert.ok(!after.voters.includes('x') && !after.learners.includes('x'))
  })

  it('shrinks to the target when members leave', () => {
    const conf: ConfState = { voters: ['a', 'b', 'c', 'd', 'e'], learners: [] }
    const { conf: after } = settle(conf, [member('a'), member('b'), member('c'), member('d')], 'a')
    assert.equal(after.voters.length, 3)
    assert.ok(after.voters.includes('a'))
  })
})

describe('voters by measured RTT', () => {
  const now = 100_000
  /** The leader's view: every member heard from for the last 5 s (same uptime), all caught up. */
  const view = (learners: string[], rtts?: Map<string, number>): HealthInput => ({
    memberIds: ['leader', 'a-slow', 'b-fast', 'c-fast'],
    selfId: 'leader',
    now,
    freshMs: 1_500,
    heard: new Map(
      ['a-slow', 'b-fast', 'c-fast'].map((id) => [id, { firstHeard: now - 5_000, lastHeard: now - 50 }]),
    ),
    learners,
    matchOf: () => 10,
    lastIndex: 10,
    rtts,
  })
  const rtts = new Map([
    ['a-slow', 240],
    ['b-fast', 8],
    ['c-fast', 12],
  ])

  it('promotes the low-RTT learners; without RTTs the peer-id order would have picked the slow one', () => {
    const conf: ConfState = { voters: ['leader'], learners: ['a-slow', 'b-fast', 'c-fast'] }
    assert.deepEqual(nextMembershipChange(conf, memberHealth(view(conf.learners)), 'leader'), {
      type: 'addVoter',
      node: 'a-slow',
    })
    assert.deepEqual(nextMembershipChange(conf, memberHealth(view(conf.learners, rtts)), 'leader'), {
      type: 'addVoter',
      node: 'b-fast',
    })
    let settled = conf
    for (let i = 0; i < 10; i++) {
      const change = nextMembershipChange(settled, memberHealth(view(settled.learners, rtts)), 'leader')
      if (change === undefined) break
      settled = applyConfChange(settled, change)
    }
    assert.deepEqual([...settled.voters].sort(), ['b-fast', 'c-fast', 'leader'])
    assert.deepEqual(settled.learners, ['a-slow'])
  })

  it('shrinking a group of four voters demotes the high-RTT one', () => {
    const conf: ConfState = { voters: ['leader', 'a-slow', 'b-fast', 'c-fast'], learners: [] }
    assert.deepEqual(nextMembershipChange(conf, memberHealth(view([], rtts)), 'leader'), {
      type: 'removeNode',
      node: 'a-slow',
    })
  })

  it('the health view carries the RTTs, an unheard or lagging learner is unhealthy, the leader always healthy', () => {
    const health = memberHealth({
      ...view(['b-fast', 'c-fast'], rtts),
      heard: new Map([
        ['a-slow', { firstHeard: now - 5_000, lastHeard: now - 50 }],
        ['b-fast', { firstHeard: now - 5_000, lastHeard: now - 50 }],
      ]),
      matchOf: (id) => (id === 'b-fast' ? 1 : 500),
      lastIndex: 500,
    })
    const by = new Map(health.map((m) => [m.peerId, m]))
    assert.equal(by.get('a-slow')?.rttMs, 240)
    assert.equal(by.get('a-slow')?.healthy, true)
    assert.equal(by.get('b-fast')?.healthy, false, 'a learner far behind is not ready to vote')
    assert.equal(by.get('c-fast')?.healthy, false, 'never heard from')
    assert.equal(by.get('leader')?.healthy, true)
  })

  it('the leading log asks the party for RTTs when it reconciles its voters', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tutti-rtt-'))
    const libp2p = await newLibp2p()
    let asked = 0
    const self = libp2p.peerId.toString()
    const log = createRaftPartyLog(
      { partyId: PARTY_ID, selfId: self, dataDir: dir, initialState: foundingState([self]) },
      {
        libp2p,
        clock: monotonicClock,
        rtts: () => {
          asked++
          return new Map()
        },
      },
    )
    try {
      await log.start()
      await waitFor(() => asked > 0, 'the leader asks for RTTs')
    } finally {
      await log.stop()
      await libp2p.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
