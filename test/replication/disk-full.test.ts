// A party member whose disk fills up: its Raft replica stops (it never acknowledges what it could not persist) and
// says why, the node keeps running, the others keep committing, and once there is room again the member restarts
// from its own disk and catches up. Member 0's data directory is a small tmpfs (root + mount, else skipped).
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, test } from 'node:test'
import { createRaftPartyLog } from '../../src/replication/raft-party-log.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { fillDisk, mountTinyDisk, tmpfsUnavailableReason } from '../helpers/tmpfs.ts'
import { waitFor } from '../helpers/wait.ts'
import { enqueue, Group, PARTY_ID } from './cluster.ts'

const groups: Group[] = []
const mounts: Array<{ unmount(): void }> = []
after(async () => {
  // Lazily unmounted first (open files keep it alive until closed), so that close() can remove the directory.
  for (const m of mounts) m.unmount()
  for (const g of groups) await g.close()
})

test('a member whose disk fills stops replicating and says why; the party commits on; with room it catches up', {
  skip: tmpfsUnavailableReason(),
}, async () => {
  const g = await Group.found(3, {}, async (dataDir, i) => {
    if (i === 0) mounts.push(mountTinyDisk(dataDir, '512k'))
  })
  groups.push(g)
  const full = g.members[0]
  let leader = await g.leader()
  const acknowledged: string[] = []
  for (let n = 1; n <= 5; n++) {
    await leader.log.propose(enqueue(leader.id, n))
    acknowledged.push(`Song ${n}`)
  }
  await g.converged()
  let fatal: Error | undefined
  full.log.on('fatal', ({ error }) => {
    fatal = error
    full.up = false
  })
  const filler = fillDisk(full.dataDir)

  // Keep proposing at whoever leads until member 0's log needs a page its disk has not got, and a while after.
  const errors: string[] = []
  let afterFatal = 0
  for (let n = 6; afterFatal < 10; n++) {
    if (n > 2_000) throw new Error(`member 0 never hit its full disk (${errors.length} failed commands)`)
    leader = await g.leader('a leader among the members with room')
    try {
      await leader.log.propose(enqueue(leader.id, n))
      acknowledged.push(`Song ${n}`)
      if (fatal !== undefined) afterFatal++
    } catch (err) {
      errors.push((err as Error).message)
      if (errors.length > 20) throw new Error(`commands keep failing: ${errors.join('; ')}`)
    }
  }
  const error = fatal as Error
  console.log(`member 0 stopped after ${acknowledged.length - 10} commands: ${error.message}`)
  assert.match(`${error.message} ${(error as NodeJS.ErrnoException).code}`, /ENOSPC|no space/i)
  assert.notEqual(leader, full, 'the full member does not lead')
  // The node itself is fine: its libp2p still answers.
  const other = g.members[1]
  await other.libp2p.services.ping.ping(full.libp2p.peerId, { signal: AbortSignal.timeout(5_000) })
  await g.converged('the members with room to agree')
  for (const m of g.up()) {
    const titles = m.log.state.queue.map((e) => e.title)
    for (const t of acknowledged) assert.ok(titles.includes(t), `${t} acknowledged and on ${m.id}`)
  }

  // Room again: the member restarts from its own disk and catches up.
  await rm(filler)
  await full.log.stop({ handOff: false })
  full.log = createRaftPartyLog(
    { partyId: PARTY_ID, selfId: full.id, dataDir: full.dataDir },
    { libp2p: full.libp2p, clock: monotonicClock },
  )
  await full.log.start()
  assert.ok(full.log.state.queue.length >= 5, 'what it had persisted is still on its disk')
  full.up = true
  await g.converged('the member to catch up')
  await waitFor(
    () => acknowledged.every((t) => full.log.state.queue.some((e) => e.title === t)),
    'every acknowledged command on the member that was full',
  )
})
