// Voter selection: at most five voters chosen by connectivity, one membership change at a time, failed voters replaced.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { applyConfChange } from '../../src/raft/raft.ts'
import type { ConfState } from '../../src/raft/types.ts'
import { type MemberHealth, nextMembershipChange, targetVoterCount } from '../../src/replication/voters.ts'

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
