// Invites outlive their host: a party's invite names its current voters, so after the host's node dies a newcomer holding an invite taken before still joins, through a surviving voter. The voter list is optional in the link (old links still decode; old decoders ignore it).
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { InvalidInviteError } from '../../src/party/errors.ts'
import { decodeInvite, encodeInvite, INVITE_PREFIX } from '../../src/party/invite.ts'
import { inviteSchema } from '../../src/party/schema.ts'
import { createPartyService, type PartyService } from '../../src/party/service.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'

interface TestNode {
  name: string
  libp2p: TuttiLibp2p
  party: PartyService
  id: string
}

async function makeNode(name: string): Promise<TestNode> {
  const key = await generateKeyPair('Ed25519')
  const libp2p = await createTuttiLibp2p({ privateKey: key, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
  const party = createPartyService(
    {
      dataDir: mkdtempSync(join(tmpdir(), 'tutti-invite-')),
      displayName: name,
      heartbeatMs: 200,
      suspectAfterMs: 1_000,
      removeAfterMs: 3_000,
    },
    { libp2p, clock: monotonicClock, privateKey: key },
  )
  await party.start()
  return { name, libp2p, party, id: libp2p.peerId.toString() }
}

const PARTY_ID = '8a4e0f36-2b0c-4c4e-9a55-3f1a4a8f2f11'
const PEER = '12D3KooWJ7nUBW4BXnNiCNLptdxSdpPdYDQ9HYfSiLxxvBdCNHCy'

describe('invite links', () => {
  it('an old link without voters still decodes; an old decoder reads a new link and ignores the voters', () => {
    const old = {
      partyId: PARTY_ID,
      hostPeerId: PEER,
      hostAddrs: ['/ip4/127.0.0.1/tcp/4001'],
      secret: 's3cret',
    }
    const oldLink = INVITE_PREFIX + Buffer.from(JSON.stringify(old)).toString('base64url')
    assert.deepEqual(decodeInvite(oldLink), old)

    const voters = [{ peerId: 'other-voter', addrs: ['/ip4/127.0.0.1/tcp/4002'] }]
    const newLink = encodeInvite({ ...old, voters })
    assert.deepEqual(decodeInvite(newLink).voters, voters)
    const payload = JSON.parse(Buffer.from(newLink.slice(INVITE_PREFIX.length), 'base64url').toString('utf8'))
    assert.deepEqual(inviteSchema.parse(payload), old)
  })

  it('a damaged voter list is a clear error', () => {
    const bad = { partyId: PARTY_ID, hostPeerId: PEER, hostAddrs: [], secret: 's', voters: [{ peerId: 7 }] }
    const link = INVITE_PREFIX + Buffer.from(JSON.stringify(bad)).toString('base64url')
    assert.throws(() => decodeInvite(link), InvalidInviteError)
  })
})

describe('joining after the host died', { timeout: 120_000 }, () => {
  const nodes: TestNode[] = []

  after(async () => {
    for (const n of nodes) {
      await n.party.stop().catch(() => {})
      await Promise.resolve(n.libp2p.stop()).catch(() => {})
    }
  })

  it('a newcomer joins with an invite taken before the host died, through a surviving voter', async () => {
    const [host, alice, bob, newcomer] = await Promise.all(
      ['Host', 'Alice', 'Bob', 'Newcomer'].map((name) => makeNode(name)),
    )
    nodes.push(host, alice, bob, newcomer)
    const created = await host.party.create({ name: 'Lasting' })
    // The link handed out at creation names only the founder: nobody else is in the party yet.
    assert.equal(decodeInvite(created.invite).voters, undefined)
    await alice.party.join(created.invite)
    await bob.party.join(created.invite)
    // Every voter must know the group has three: one that missed the last promotion could not win an election.
    await waitFor(
      () =>
        [host, alice, bob].every(
          (n) => n.party.status()?.members.filter((m) => m.replica === 'voter').length === 3,
        ),
      'three voters, as every member sees it',
    )
    // The invite the host shows now names the other voters too.
    let invite = ''
    await waitFor(() => {
      invite = host.party.status()?.invite ?? ''
      const named = decodeInvite(invite).voters?.map((v) => v.peerId) ?? []
      return named.includes(alice.id) && named.includes(bob.id)
    }, 'the invite names Alice and Bob')
    assert.equal(decodeInvite(invite).hostPeerId, host.id)

    await host.libp2p.stop()
    await waitFor(() => {
      const leader = alice.party.status()?.leader
      return leader !== undefined && leader !== host.id && bob.party.status()?.leader === leader
    }, 'a new leader')

    const status = await newcomer.party.join(invite)
    assert.equal(status.partyId, created.status.partyId)
    await waitFor(
      () => [alice, bob].every((n) => n.party.status()?.members.some((m) => m.peerId === newcomer.id)),
      'the survivors have the newcomer as a member',
    )
    // And it follows the new leader.
    await waitFor(() => newcomer.party.status()?.connection === 'connected', 'the newcomer is connected')
  })
})
