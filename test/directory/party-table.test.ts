// The party table: newer announcements replace older ones, withdrawals remove, silence expires a party after its TTL.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PartyTable } from '../../src/directory/party-table.ts'
import type { PartyAnnouncement } from '../../src/directory/schema.ts'

function announcement(over: Partial<PartyAnnouncement> = {}): PartyAnnouncement {
  return {
    type: 'announce',
    partyId: 'p1',
    name: 'Friday',
    host: { peerId: 'host', addrs: [] },
    members: 3,
    joinPolicy: 'open',
    seq: 1,
    ttlMs: 30_000,
    ...over,
  }
}

test('newer announcements update, older or repeated ones are ignored', () => {
  const table = new PartyTable()
  assert.equal(table.announce(announcement(), 0)?.type, 'updated')
  assert.equal(table.announce(announcement({ seq: 2, members: 5 }), 10)?.party.members, 5)
  assert.equal(table.announce(announcement({ seq: 1, members: 9 }), 20), undefined, 'a stale copy')
  assert.equal(table.list(20)[0].members, 5)
})

test('a party not re-announced within its TTL expires', () => {
  const table = new PartyTable()
  table.announce(announcement(), 0)
  assert.equal(table.list(29_999).length, 1)
  assert.equal(table.list(30_000).length, 0)
  assert.deepEqual(
    table.expire(30_000).map((c) => c.type),
    ['removed'],
  )
})

test('withdrawal removes; the same party id from two hosts are two parties; busiest first', () => {
  const table = new PartyTable()
  table.announce(announcement(), 0)
  table.announce(announcement({ host: { peerId: 'other', addrs: [] }, members: 10, name: 'Big' }), 0)
  assert.deepEqual(
    table.list(1).map((p) => p.name),
    ['Big', 'Friday'],
  )
  assert.equal(
    table.withdraw({ type: 'withdraw', partyId: 'p1', hostPeerId: 'host', seq: 2 })?.type,
    'removed',
  )
  assert.deepEqual(
    table.list(1).map((p) => p.name),
    ['Big'],
  )
})
