// A 3-node party over loopback libp2p: create, join, enqueue, play with agreeing timelines; permission refusals; approval; a vanished member is removed and rejoins; forged and malformed messages are refused and the host keeps running.

import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { encodeMessage, FramedStream } from '../../src/net/framed.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { CommandRefusedError, JoinRefusedError } from '../../src/party/errors.ts'
import { decodeInvite } from '../../src/party/invite.ts'
import {
  hostToMemberSchema,
  MAX_PARTY_MESSAGE_BYTES,
  memberToHostSchema,
  PARTY_PROTOCOL,
  signedCommandSchema,
} from '../../src/party/schema.ts'
import { createPartyService, type PartyService } from '../../src/party/service.ts'
import { signCommand } from '../../src/party/signing.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'

interface TestNode {
  libp2p: TuttiLibp2p
  key: PrivateKey
  party: PartyService
}

async function makeNode(
  name: string,
  opts: { heartbeatMs?: number; removeAfterMs?: number } = {},
): Promise<TestNode> {
  const key = await generateKeyPair('Ed25519')
  const libp2p = await createTuttiLibp2p({ privateKey: key, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
  const party = createPartyService(
    {
      dataDir: mkdtempSync(join(tmpdir(), 'tutti-party-')),
      displayName: name,
      heartbeatMs: opts.heartbeatMs ?? 200,
      suspectAfterMs: 600,
      removeAfterMs: opts.removeAfterMs ?? 1_500,
    },
    { libp2p, clock: monotonicClock, privateKey: key },
  )
  await party.start()
  return { libp2p, key, party }
}

const song = (n: number, durationSec = 120) => ({
  cid: `bafysong${n}`,
  title: `Song ${n}`,
  artist: 'Band',
  durationSec,
})

async function refusal(p: Promise<unknown>): Promise<CommandRefusedError> {
  try {
    await p
  } catch (err) {
    assert.ok(err instanceof CommandRefusedError, `expected a refusal, got ${String(err)}`)
    return err
  }
  assert.fail('command was not refused')
}

describe('3-node loopback party', { timeout: 120_000 }, () => {
  let host: TestNode
  let alice: TestNode
  let bob: TestNode

  before(async () => {
    ;[host, alice, bob] = await Promise.all([makeNode('Host'), makeNode('Alice'), makeNode('Bob')])
  })

  after(async () => {
    for (const n of [host, alice, bob]) {
      await n?.party.stop().catch(() => {})
      await Promise.resolve(n?.libp2p.stop()).catch(() => {})
    }
  })

  it('members join, enqueue and play; every timeline agrees', async () => {
    const { invite, inviteQr } = await host.party.create({ name: 'Friday' })
    assert.match(invite, /^tutti:\/\/join\//)
    assert.ok(inviteQr.length > 100, 'a terminal QR code is drawn')
    assert.equal(decodeInvite(invite).hostPeerId, host.libp2p.peerId.toString())

    await alice.party.join(invite)
    await bob.party.join(invite)
    await waitFor(() => host.party.status()?.members.length === 3, 'three members on the host')

    await alice.party.command({ type: 'enqueue', song: song(1, 30) })
    await bob.party.command({ type: 'enqueue', song: song(2, 40) })
    const { index } = await host.party.command({ type: 'play' })
    assert.ok(index !== undefined)
    for (const n of [alice, bob])
      await waitFor(() => (n.party.status()?.index ?? 0) >= (index ?? 0), 'entries reach members')

    const states = [host, alice, bob].map((n) => n.party.status())
    for (const s of states) {
      assert.deepEqual(
        s?.queue.map((e) => e.cid),
        ['bafysong1', 'bafysong2'],
      )
      assert.deepEqual(s?.timeline, states[0]?.timeline)
    }
    // Once the play is in force, each member's party clock puts them at the same position (loopback: well under 50 ms).
    const anchor = states[0]?.timeline.anchorPartyTime ?? 0
    await waitFor(() => [host, alice, bob].every((n) => n.party.partyTime() > anchor + 100), 'play in force')
    const positions = [host, alice, bob].map((n) => n.party.status()?.nowPlaying)
    for (const p of positions) {
      assert.equal(p?.entry?.cid, 'bafysong1')
      assert.equal(p?.playing, true)
    }
    const spread =
      Math.max(...positions.map((p) => p?.position ?? 0)) -
      Math.min(...positions.map((p) => p?.position ?? 0))
    assert.ok(spread < 0.25, `members' positions differ by ${spread} s`)
  })

  it('commands without permission are refused with a reason sent back to the member', async () => {
    await host.party.command({ type: 'set-permissions', mode: 'djs', djs: [alice.libp2p.peerId.toString()] })
    await waitFor(() => bob.party.status()?.permissions.mode === 'djs', 'permissions reach bob')
    assert.equal(bob.party.status()?.can.controlMusic, false)
    const err = await refusal(bob.party.command({ type: 'skip' }))
    assert.equal(err.refusal, 'forbidden')
    assert.match(err.message, /DJs/)
    // Alice, a DJ, may skip.
    await alice.party.command({ type: 'pause' })
    // Nobody but the host manages the party.
    const err2 = await refusal(
      alice.party.command({ type: 'remove-member', peerId: bob.libp2p.peerId.toString() }),
    )
    assert.match(err2.message, /only the host/)
    await host.party.command({ type: 'set-permissions', mode: 'everyone' })
  })

  it('a member submitting set-host for itself is refused and the host stays the host', async () => {
    const aliceId = alice.libp2p.peerId.toString()
    const hostId = host.libp2p.peerId.toString()
    const err = await refusal(alice.party.command({ type: 'set-host', peerId: aliceId }))
    assert.equal(err.refusal, 'forbidden')
    assert.match(err.message, /only the elected leader/)
    // Still the host everywhere, and the party still answers its members.
    await alice.party.command({ type: 'enqueue', song: song(9, 10) })
    await waitFor(
      () => bob.party.status()?.queue.some((e) => e.cid === 'bafysong9') === true,
      'enqueue reaches bob',
    )
    for (const n of [host, alice, bob]) {
      const s = n.party.status()
      assert.equal(s?.hostPeerId, hostId)
      assert.notEqual(s?.members.find((m) => m.peerId === aliceId)?.role, 'host')
    }
    const queued = host.party.status()?.queue.find((e) => e.cid === 'bafysong9')
    await host.party.command({ type: 'remove', entryId: queued?.entryId ?? assert.fail('song 9 not queued') })
  })

  it('forged and malformed messages are refused and the host keeps running', async () => {
    const { invite } = host.party.status() ?? assert.fail('no party')
    const info = decodeInvite(invite)
    const hostId = host.libp2p.peerId

    // 1. Garbage bytes instead of a hello.
    const raw = await bob.libp2p.dialProtocol(hostId, PARTY_PROTOCOL)
    raw.send(new Uint8Array([5, 1, 2, 3, 4, 5]))
    await raw.close().catch(() => {})

    // 2. Wrong secret.
    const wrong = new FramedStream(
      await bob.libp2p.dialProtocol(hostId, PARTY_PROTOCOL),
      hostToMemberSchema,
      memberToHostSchema,
      {
        maxMessageBytes: MAX_PARTY_MESSAGE_BYTES,
      },
    )
    await wrong.write({ type: 'hello', partyId: info.partyId, secret: 'guess', name: 'Mallory' })
    const answer = await wrong.read()
    assert.equal(answer?.type, 'refused')

    // 3. A command signed by another key than the sender's, and one for another party, on a valid session.
    // From a peer of its own: a second session from a member's peer id would displace the member's
    // session, and the member reconnecting would displace it in turn.
    const malloryKey = await generateKeyPair('Ed25519')
    const mallory = await createTuttiLibp2p({
      privateKey: malloryKey,
      mdns: false,
      listen: ['/ip4/127.0.0.1/tcp/0'],
    })
    after(() => mallory.stop())
    await mallory.dial(host.libp2p.getMultiaddrs()[0])
    const s = new FramedStream(
      await mallory.dialProtocol(hostId, PARTY_PROTOCOL),
      hostToMemberSchema,
      memberToHostSchema,
      {
        maxMessageBytes: MAX_PARTY_MESSAGE_BYTES,
      },
    )
    await s.write({ type: 'hello', partyId: info.partyId, secret: info.secret, name: 'Mallory' })
    // The host's liveness pings reach every open session, so one may arrive before the welcome.
    let first = await s.read()
    while (first?.type === 'ping') first = await s.read()
    assert.equal(first?.type, 'welcome')
    const forged = await signCommand(alice.key, {
      partyId: info.partyId,
      from: mallory.peerId.toString(),
      session: 'forged-session',
      seq: 0,
      command: { type: 'end' },
    })
    await s.write({
      type: 'submit',
      requestId: 7,
      payload: forged.payload as Uint8Array<ArrayBuffer>,
      signature: forged.signature as Uint8Array<ArrayBuffer>,
    })
    const otherParty = await signCommand(malloryKey, {
      partyId: 'another-party',
      from: mallory.peerId.toString(),
      session: 'session-abcdef',
      seq: 0,
      command: { type: 'pause' },
    })
    await s.write({
      type: 'submit',
      requestId: 8,
      payload: otherParty.payload as Uint8Array<ArrayBuffer>,
      signature: otherParty.signature as Uint8Array<ArrayBuffer>,
    })
    const junk = encodeMessage(signedCommandSchema.partial().passthrough(), { partyId: info.partyId })
    await s.write({
      type: 'submit',
      requestId: 9,
      payload: junk as Uint8Array<ArrayBuffer>,
      signature: new Uint8Array(64),
    })
    const results = new Map<number, string>()
    while (results.size < 3) {
      const m = await s.read()
      if (m === undefined) break
      if (m.type === 'result') results.set(m.requestId, m.result.ok ? 'ok' : m.result.reason)
    }
    assert.match(results.get(7) ?? '', /bad signature/)
    assert.match(results.get(8) ?? '', /wrong party/)
    assert.match(results.get(9) ?? '', /malformed/)
    await s.close()

    // The party did not end and still works for everyone.
    assert.equal(host.party.status()?.ended, false)
    await alice.party.command({ type: 'enqueue', song: song(3, 10) })
    await waitFor(() => bob.party.status()?.queue.length === 3, 'the party still works')
  })

  it('a member that vanishes is removed, and can rejoin', async () => {
    const invite = host.party.status()?.invite ?? assert.fail('no party')
    const carol = await makeNode('Carol')
    try {
      await carol.party.join(invite)
      const carolId = carol.libp2p.peerId.toString()
      await waitFor(
        () => host.party.status()?.members.some((m) => m.peerId === carolId) === true,
        'carol joined',
      )
      // Carol's node dies without a goodbye.
      await carol.libp2p.stop()
      await waitFor(
        () =>
          host.party.status()?.members.some((m) => m.peerId === carolId && m.suspected) === true ||
          host.party.status()?.members.some((m) => m.peerId === carolId) === false,
        'carol suspected',
      )
      await waitFor(
        () => host.party.status()?.members.some((m) => m.peerId === carolId) === false,
        'carol removed',
      )
      await waitFor(
        () => alice.party.status()?.members.every((m) => m.peerId !== carolId) === true,
        'the removal reaches the other members',
      )
      // Back online with the same identity: she rejoins with the same invite.
      await carol.party.stop()
      await carol.libp2p.start()
      await carol.party.start()
      await carol.party.join(invite)
      await waitFor(
        () => host.party.status()?.members.some((m) => m.peerId === carolId) === true,
        'carol rejoined',
      )
      assert.equal(carol.party.status()?.queue.length, host.party.status()?.queue.length)
    } finally {
      await carol.party.stop().catch(() => {})
      await Promise.resolve(carol.libp2p.stop()).catch(() => {})
    }
  })

  it('an approve-only party holds joiners until the host decides', async () => {
    const host2 = await makeNode('Host2')
    const dave = await makeNode('Dave')
    const erin = await makeNode('Erin')
    try {
      const { invite } = await host2.party.create({ name: 'Guests', joinPolicy: 'approve' })
      const daveJoin = dave.party.join(invite)
      await waitFor(() => host2.party.status()?.pending.length === 1, 'dave pending')
      await host2.party.command({ type: 'approve', peerId: dave.libp2p.peerId.toString() })
      const status = await daveJoin
      assert.ok(status.members.some((m) => m.self))
      const erinJoin = erin.party.join(invite)
      await waitFor(() => host2.party.status()?.pending.length === 1, 'erin pending')
      await host2.party.command({ type: 'reject', peerId: erin.libp2p.peerId.toString() })
      await assert.rejects(erinJoin, JoinRefusedError)
      assert.equal(erin.party.status(), undefined)
      // The host leaves: it hands the party to dave (Raft leadership + host role) and is out.
      await host2.party.leave()
      assert.equal(host2.party.status(), undefined)
      const daveId = dave.libp2p.peerId.toString()
      await waitFor(() => dave.party.status()?.hostPeerId === daveId, 'dave hosts the party')
      await waitFor(() => dave.party.status()?.members.length === 1, 'host2 is gone from the party')
      // The last member leaving ends the party.
      await dave.party.leave()
      assert.equal(dave.party.status(), undefined)
    } finally {
      for (const n of [host2, dave, erin]) {
        await n.party.stop().catch(() => {})
        await Promise.resolve(n.libp2p.stop()).catch(() => {})
      }
    }
  })
})
