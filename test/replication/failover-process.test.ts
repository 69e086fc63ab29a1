// Five members as separate processes: SIGKILL the leader; a new leader takes over, no acknowledged command is lost, commands continue.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, it } from 'node:test'
import { ProcessGroup } from './fixtures/process-group.ts'

let group: ProcessGroup | undefined
let root = ''
after(async () => {
  await group?.close()
  if (root) await rm(root, { recursive: true, force: true })
})

it('a SIGKILLed leader is replaced and no acknowledged command is lost', async () => {
  root = await mkdtemp(join(tmpdir(), 'tutti-failover-'))
  group = await ProcessGroup.create(5, root)
  const g = group
  const acked: number[] = []
  for (let n = 1; n <= 10; n++) if (await g.propose(n)) acked.push(n)
  assert.equal(acked.length, 10, 'commands commit while every member is up')

  const victim = g.currentLeader()
  assert.ok(victim >= 0)
  const killedAt = await g.kill(victim)
  const next = await g.waitNewLeader(killedAt, victim)
  // Printed, not asserted: timing depends on the machine's load.
  console.log(
    `new leader ${g.indexOf(next.leader)} after ${(next.at - killedAt).toFixed(0)} ms (term ${next.term})`,
  )

  for (let n = 11; n <= 20; n++) if (await g.propose(n)) acked.push(n)
  assert.ok(acked.includes(20), 'commands commit after the failover')
  const states = await g.converged()
  for (const s of states) {
    const have = new Set(s.applied)
    for (const n of acked) assert.ok(have.has(n), `member ${s.member} lost acknowledged command ${n}`)
  }

  await g.start(victim) // the old leader comes back from its disk
  const back = await g.converged()
  assert.equal(
    new Set(back.map((s) => s.applied.join(','))).size,
    1,
    'the restarted member caught up, same order',
  )
})
