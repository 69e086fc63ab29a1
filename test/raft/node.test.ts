// Raft node shell: real timers, file storage and an in-memory transport; a proposal resolves once committed, the group survives losing its leader, and a restarted node rejoins from its own disk.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import type { Message } from '../../src/raft/messages.ts'
import { createRaftNode, type RaftNode, type RaftTransport } from '../../src/raft/node.ts'
import { seededRandom } from '../../src/raft/random.ts'
import { openRaftStorage, type RaftStorage } from '../../src/raft/storage.ts'
import type { Entry } from '../../src/raft/types.ts'

const handlers = new Map<string, (m: Message) => void>()
function transport(id: string): RaftTransport {
  return {
    send: (to, m) => setImmediate(() => handlers.get(to)?.(m)),
    onMessage(handler) {
      handlers.set(id, handler)
      return () => handlers.delete(id)
    },
  }
}

const root = await mkdtemp(join(tmpdir(), 'raft-node-'))
after(() => rm(root, { recursive: true, force: true }))

interface Member {
  node: RaftNode
  storage: RaftStorage
  applied: string[]
}
const ids = ['a', 'b', 'c']
const members = new Map<string, Member>()
const dec = new TextDecoder()

async function boot(id: string, seed: number): Promise<Member> {
  const storage = await openRaftStorage(join(root, id))
  const applied: string[] = []
  const node = createRaftNode(
    { id, tickMs: 10, bootstrap: { voters: ids, learners: [] } },
    {
      transport: transport(id),
      storage,
      random: seededRandom(seed),
      application: {
        apply: (e: Entry) => {
          if (e.type === 'normal') applied.push(dec.decode(e.data))
        },
        restore: () => {},
      },
    },
  )
  await node.start()
  const m = { node, storage, applied }
  members.set(id, m)
  return m
}

async function until<T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = performance.now() + ms
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

function leader(): string | undefined {
  return [...members].find(([, m]) => m.node.status().role === 'leader')?.[0]
}

test('a proposal resolves once committed; the group survives its leader; a restarted node rejoins from disk', async () => {
  for (const [i, id] of ids.entries()) await boot(id, i + 1)
  const first = await until('a leader', leader)
  const follower = ids.find((id) => id !== first) as string
  await assert.rejects(
    members.get(follower)?.node.propose(new TextEncoder().encode('x')) as Promise<unknown>,
    {
      name: 'NotLeaderError',
    },
  )
  const at = await members.get(first)?.node.propose(new TextEncoder().encode('one'))
  assert.ok(at && at.index > 0)
  await until('everyone applied one', () =>
    ids.every((id) => members.get(id)?.applied.includes('one')) ? true : undefined,
  )

  // The leader goes away (process dies): the others elect a new one and keep committing.
  const old = members.get(first) as Member
  await old.node.stop()
  await old.storage.close()
  members.delete(first)
  const second = await until('a new leader', leader)
  assert.notEqual(second, first)
  await members.get(second)?.node.propose(new TextEncoder().encode('two'))

  // The old leader restarts from its own directory and catches up.
  const back = await boot(first, 99)
  await until('the restarted node caught up', () => (back.applied.includes('two') ? true : undefined))
  assert.deepEqual(back.applied, ['one', 'two'])
  for (const m of members.values()) {
    await m.node.stop()
    await m.storage.close()
  }
})
