// Raft core: elections, pre-vote, check-quorum, the current-term commit rule (figure 8), membership, learners, leadership transfer, snapshots, restarts.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { InvalidConfChangeError, NotLeaderError, ProposalDroppedError } from '../../src/raft/errors.ts'
import type { Message } from '../../src/raft/messages.ts'
import { Cluster, cmd } from './cluster.ts'

function elect(c: Cluster, id: string): void {
  c.raft(id).campaign()
  c.flush()
  assert.deepEqual(c.leaders(), [id])
}

test('election: ticking alone elects exactly one leader, and everyone follows it', () => {
  const c = new Cluster(['a', 'b', 'c'])
  c.tickAll(25)
  const leaders = c.leaders()
  assert.equal(leaders.length, 1)
  for (const id of ['a', 'b', 'c']) assert.equal(c.raft(id).leader, leaders[0])
  c.raft(leaders[0]).propose(cmd('hello'))
  c.flush()
  for (const id of ['a', 'b', 'c']) assert.deepEqual(c.applied(id), ['hello'])
})

test('election: a candidate with a shorter log loses', () => {
  const c = new Cluster(['a', 'b', 'c'])
  elect(c, 'a')
  c.partition(['a', 'b'], ['c'])
  c.raft('a').propose(cmd('x'))
  c.flush()
  c.heal()
  c.crash('a')
  c.tick(['b', 'c'], 10) // let b's and c's leases lapse without campaigning
  c.raft('c').campaign()
  c.flush()
  assert.notEqual(c.raft('c').role, 'leader', 'c lacks committed entry x and must not win')
  c.tick(['b', 'c'], 40)
  assert.deepEqual(c.leaders(), ['b'])
})

test('pre-vote: a partitioned node rejoining does not disrupt the leader', () => {
  const c = new Cluster(['a', 'b', 'c'])
  elect(c, 'a')
  const term = c.raft('a').term
  c.partition(['a', 'b'], ['c'])
  c.tickAll(100) // c keeps timing out, alone
  assert.equal(c.raft('c').term, term, 'pre-vote keeps the isolated node from inflating its term')
  c.heal()
  c.tickAll(5)
  assert.deepEqual(c.leaders(), ['a'])
  assert.equal(c.raft('a').term, term)
})

test('pre-vote off: the same rejoin forces an election (what pre-vote prevents)', () => {
  const c = new Cluster(['a', 'b', 'c'], [], { preVote: false, checkQuorum: false })
  elect(c, 'a')
  const term = c.raft('a').term
  c.partition(['a', 'b'], ['c'])
  c.tickAll(100)
  assert.ok(c.raft('c').term > term)
  c.heal()
  c.tickAll(5)
  assert.ok(c.raft('a').term > term, 'the leader was deposed by the higher term')
})

test('check-quorum: a leader cut off from its quorum steps down; the majority elects another', () => {
  const c = new Cluster(['a', 'b', 'c'])
  elect(c, 'a')
  c.partition(['a'], ['b', 'c'])
  c.tickAll(20) // contact is judged per election timeout: at most two of them pass before it notices
  assert.equal(c.raft('a').role, 'follower')
  assert.throws(() => c.raft('a').propose(cmd('lost')), NotLeaderError)
  c.tickAll(30)
  const leaders = c.leaders()
  assert.equal(leaders.length, 1)
  assert.ok(['b', 'c'].includes(leaders[0]))
})

test('check-quorum: followers that hear from a leader ignore a disruptive vote request', () => {
  const c = new Cluster(['a', 'b', 'c'])
  elect(c, 'a')
  const term = c.raft('a').term
  const b = c.raft('b')
  b.step({
    type: 'vote',
    from: 'c',
    to: 'b',
    term: term + 5,
    lastIndex: 100,
    lastTerm: term,
    transfer: false,
  })
  assert.equal(b.term, term)
  assert.equal(b.vote, 'a')
})

test('commit rule (figure 8): entries of an earlier term are never committed by counting replicas', () => {
  const ids = ['s1', 's2', 's3', 's4', 's5']
  const c = new Cluster(ids, [], { preVote: false, checkQuorum: false })
  elect(c, 's1') // term 2; indexes 1 (bootstrap conf) and 2 (noop) committed everywhere
  // s1 appends X at index 3 but reaches only s2.
  c.partition(['s1', 's2'], ['s3', 's4', 's5'])
  const x = c.raft('s1').propose(cmd('X'))
  c.flush()
  assert.equal(x.index, 3)
  // s1 crashes; s5 wins term 3 with s3 and s4, appends entries nobody receives, then crashes too.
  c.crash('s1')
  c.partition(['s5', 's3', 's4'], ['s2'])
  c.filter = (
    (inner) => (m: Message) =>
      m.type === 'append' ? null : inner(m)
  )(c.filter)
  elect(c, 's5')
  c.raft('s5').propose(cmd('Y'))
  c.flush()
  c.crash('s5')
  // s1 returns and wins a later term; its appends are cut short so s2 and s3 hold X (term 2), but not s1's new noop.
  c.heal()
  c.restart('s1')
  const cut = (m: Message): Message =>
    m.type === 'append' ? { ...m, entries: m.entries.filter((e) => e.index < 4) } : m
  c.filter = cut
  c.raft('s1').campaign()
  c.flush()
  if (c.raft('s1').role !== 'leader') {
    c.raft('s1').campaign()
    c.flush()
  }
  assert.equal(c.raft('s1').role, 'leader')
  const s1 = c.raft('s1')
  const holders = ids.filter((id) => c.node(id).up && c.raft(id).log.term(3) === 2)
  assert.ok(holders.length >= 3, `X is on a majority (${holders.join(',')})`)
  assert.equal(s1.log.committed, 2, 'X (term 2) must not be committed by a term-4 leader counting replicas')
  // s1 crashes again; s5 (longer last term) can win and overwrite X: which is exactly why X was not committed.
  c.crash('s1')
  c.heal()
  c.restart('s5')
  for (let i = 0; i < 3 && c.raft('s5').role !== 'leader'; i++) {
    c.raft('s5').campaign()
    c.flush()
  }
  assert.equal(c.raft('s5').role, 'leader')
  c.flush()
  for (const id of ['s2', 's3', 's4', 's5']) {
    assert.deepEqual(c.applied(id), ['Y'], `${id} applied only Y`)
    assert.equal(c.raft(id).log.term(3), 3)
  }
})

test('commit rule: once an entry of the current term is on a majority, earlier entries commit with it', () => {
  const c = new Cluster(['a', 'b', 'c'])
  elect(c, 'a')
  c.raft('a').propose(cmd('1'))
  c.flush()
  for (const id of ['a', 'b', 'c']) assert.deepEqual(c.applied(id), ['1'])
})

test('membership: learners receive committed entries but never campaign or count', () => {
  const c = new Cluster(['a', 'b', 'c'], ['d', 'e'])
  elect(c, 'a')
  c.raft('a').proposeConfChange({ type: 'addLearner', node: 'd' })
  c.flush()
  c.raft('a').proposeConfChange({ type: 'addLearner', node: 'e' })
  c.flush()
  c.raft('a').propose(cmd('song'))
  c.flush()
  assert.deepEqual(c.applied('d'), ['song'])
  assert.deepEqual(c.raft('e').conf.learners, ['d', 'e'])
  // Leader a with learners d and e is three of five nodes, but only one of three voters.
  c.partition(['a', 'd', 'e'], ['b', 'c'])
  c.raft('a').propose(cmd('unsafe'))
  c.flush()
  assert.equal(c.raft('d').log.lastIndex(), c.raft('a').log.lastIndex(), 'd has the entry')
  assert.deepEqual(c.applied('a'), ['song'], 'learner acknowledgements do not commit')
  c.tickAll(20)
  assert.equal(c.raft('a').role, 'follower', 'learners do not count towards check-quorum')
  c.tick(['a', 'd', 'e'], 100)
  assert.ok(!['a', 'd', 'e'].some((id) => c.raft(id).role === 'leader'), 'a + learners cannot elect')
  assert.equal(c.raft('d').term, c.raft('e').term)
  assert.equal(c.raft('d').role, 'follower')
})

test('membership: promote a learner, then it can lead; remove a voter', () => {
  const c = new Cluster(['a', 'b', 'c'], ['d'])
  elect(c, 'a')
  const a = c.raft('a')
  a.proposeConfChange({ type: 'addLearner', node: 'd' })
  assert.throws(
    () => a.proposeConfChange({ type: 'addVoter', node: 'd' }),
    ProposalDroppedError,
    'one change at a time',
  )
  assert.deepEqual(a.conf.learners, ['d'], 'in use at once')
  assert.deepEqual(a.committedConf().learners, [], 'but not committed yet')
  c.flush()
  assert.deepEqual(a.committedConf().learners, ['d'])
  a.proposeConfChange({ type: 'addVoter', node: 'd' })
  c.flush()
  for (const id of ['a', 'b', 'c', 'd'])
    assert.deepEqual([...c.raft(id).conf.voters].sort(), ['a', 'b', 'c', 'd'])
  a.transferLeadership('d')
  c.flush()
  assert.deepEqual(c.leaders(), ['d'])
  const d = c.raft('d')
  c.flush()
  assert.throws(() => d.proposeConfChange({ type: 'removeNode', node: 'd' }), InvalidConfChangeError)
  d.proposeConfChange({ type: 'removeNode', node: 'c' })
  c.flush()
  assert.deepEqual([...d.conf.voters].sort(), ['a', 'b', 'd'])
  // c is gone: with c down, a, b, d still commit; with b down too, they cannot.
  c.crash('c')
  d.propose(cmd('after-removal'))
  c.flush()
  assert.deepEqual(c.applied('a').at(-1), 'after-removal')
})

test('membership: a fresh node added as voter catches up and then counts', () => {
  const c = new Cluster(['a'], ['b'])
  elect(c, 'a')
  c.raft('a').propose(cmd('before'))
  c.flush()
  c.raft('a').proposeConfChange({ type: 'addVoter', node: 'b' })
  c.flush()
  assert.deepEqual(c.applied('b'), ['before'])
  c.crash('b')
  c.raft('a').propose(cmd('needs-b'))
  c.flush()
  assert.deepEqual(c.applied('a'), ['before'], 'with two voters, a alone cannot commit')
  c.restart('b')
  c.tickAll(3)
  assert.deepEqual(c.applied('a'), ['before', 'needs-b'])
})

test('leadership transfer: a caught-up voter takes over at once; proposals wait for it', () => {
  const c = new Cluster(['a', 'b', 'c'])
  elect(c, 'a')
  c.partition(['a', 'b'], ['c'])
  c.raft('a').propose(cmd('1'))
  c.flush()
  c.heal()
  const term = c.raft('a').term
  c.filter = (m) => (m.to === 'c' && m.type === 'append' ? null : m) // hold c back so the transfer has to wait
  c.raft('a').transferLeadership('c')
  assert.throws(() => c.raft('a').propose(cmd('2')), ProposalDroppedError)
  c.flush()
  assert.deepEqual(c.leaders(), ['a'], 'c is behind: no TimeoutNow yet')
  c.heal()
  c.tickAll(1) // heartbeat -> c answers -> catch-up append -> TimeoutNow
  assert.deepEqual(c.leaders(), ['c'])
  assert.equal(c.raft('c').term, term + 1)
  c.raft('c').propose(cmd('2'))
  c.flush()
  for (const id of ['a', 'b', 'c']) assert.deepEqual(c.applied(id), ['1', '2'])
})

test('leadership transfer is abandoned after an election timeout if the target never answers', () => {
  const c = new Cluster(['a', 'b', 'c'])
  elect(c, 'a')
  c.partition(['a', 'b'], ['c'])
  c.raft('a').transferLeadership('c')
  c.tick(['a', 'b'], 11)
  assert.deepEqual(c.leaders(), ['a'])
  assert.equal(c.raft('a').leadTransferee, null)
  c.raft('a').propose(cmd('ok'))
})

test('snapshot: a node that falls behind a compaction is brought back by InstallSnapshot', () => {
  const c = new Cluster(['a', 'b', 'c'])
  elect(c, 'a')
  c.partition(['a', 'b'], ['c'])
  for (let i = 0; i < 10; i++) c.raft('a').propose(cmd(`s${i}`))
  c.flush()
  const snap = c.compact('a')
  assert.ok(snap.index >= 12)
  c.raft('a').propose(cmd('tail'))
  c.flush()
  c.heal()
  c.tickAll(2)
  const expected = [...Array.from({ length: 10 }, (_, i) => `s${i}`), 'tail']
  assert.equal(c.node('c').snapshotsInstalled, 1)
  assert.deepEqual(c.applied('c'), expected)
  assert.deepEqual(c.raft('c').conf.voters, ['a', 'b', 'c'])
})

test('snapshot: a learner joining late gets the state from a snapshot, then the log', () => {
  const c = new Cluster(['a'], ['late'])
  elect(c, 'a')
  for (let i = 0; i < 5; i++) c.raft('a').propose(cmd(`q${i}`))
  c.flush()
  c.compact('a')
  c.raft('a').proposeConfChange({ type: 'addLearner', node: 'late' })
  c.flush()
  c.raft('a').propose(cmd('live'))
  c.flush()
  assert.equal(c.node('late').snapshotsInstalled, 1)
  assert.deepEqual(c.applied('late'), ['q0', 'q1', 'q2', 'q3', 'q4', 'live'])
})

test('restart: a crashed follower rejoins from its own persisted state and never votes twice in a term', () => {
  const c = new Cluster(['a', 'b', 'c'], [], { preVote: false, checkQuorum: false })
  elect(c, 'a')
  c.raft('a').propose(cmd('1'))
  c.flush()
  const { term, vote } = c.raft('b')
  c.crash('b')
  c.restart('b')
  assert.equal(c.raft('b').term, term)
  assert.equal(c.raft('b').vote, vote)
  // A request for the same term from someone else is refused: b already voted in it.
  c.raft('b').step({ type: 'vote', from: 'c', to: 'b', term, lastIndex: 99, lastTerm: term, transfer: false })
  const answer = c
    .raft('b')
    .ready()
    .messages.find((m) => m.type === 'voteResponse')
  assert.equal(answer?.type === 'voteResponse' && answer.reject, true)
  c.raft('a').propose(cmd('2'))
  c.flush()
  assert.deepEqual(c.applied('b'), ['1', '2'])
})

test('membership: a new leader accepts a change only after committing an entry of its own term', () => {
  const c = new Cluster(['a', 'b', 'c'], ['d'])
  c.filter = (m) => (m.type === 'append' ? null : m) // votes flow, the new leader's noop does not
  c.raft('a').campaign()
  c.flush()
  assert.equal(c.raft('a').role, 'leader')
  assert.throws(() => c.raft('a').proposeConfChange({ type: 'addLearner', node: 'd' }), ProposalDroppedError)
  c.heal()
  c.tickAll(1)
  c.raft('a').proposeConfChange({ type: 'addLearner', node: 'd' })
  c.flush()
  assert.deepEqual(c.raft('d').conf.learners, ['d'])
})

test('leader unreachable: when the leader dies, the survivors told so elect the first-ranked of them within a few ticks, in one round', () => {
  const c = new Cluster(['a', 'b', 'c', 'd', 'e'])
  elect(c, 'e')
  c.raft('e').propose(cmd('before'))
  c.flush()
  const term = c.raft('a').term
  c.crash('e')
  for (const id of ['a', 'b', 'c', 'd']) c.raft(id).leaderUnreachable('e')
  c.tick(['a', 'b', 'c', 'd'], 3) // far below the election timeout (11+ ticks)
  assert.deepEqual(c.leaders(), ['a'], 'a ranks first among the survivors by id')
  assert.equal(c.raft('a').term, term + 1, 'no split vote: one round')
  c.raft('a').propose(cmd('after'))
  c.flush()
  for (const id of ['a', 'b', 'c', 'd']) assert.deepEqual(c.applied(id), ['before', 'after'])
})

test('leader unreachable: a false alarm (the leader is alive) moves neither the term nor the leader', () => {
  const c = new Cluster(['a', 'b', 'c'])
  elect(c, 'a')
  const term = c.raft('a').term
  c.raft('b').leaderUnreachable('a') // b alone hears the alarm; c still hears the leader
  c.tickAll(30)
  assert.deepEqual(c.leaders(), ['a'])
  assert.equal(c.raft('a').term, term)
  assert.equal(c.raft('b').leader, 'a')
  c.raft('c').leaderUnreachable('b') // not its leader: ignored
  c.tickAll(5)
  assert.deepEqual(c.leaders(), ['a'])
})
