// A party member takes its clock samples on `/tutti/clock/1.0.0` (a stream of its own beside the party session)
// and follows a host clock 7 s ahead; against a host that does not serve the clock protocol it falls back to
// sampling by pings on the session, and still follows it; a member whose clock stream fails tries a new one.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { CLOCK_PROTOCOL, serveClockStream } from '../../src/clock/protocol.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { createPartyService, type PartyService } from '../../src/party/service.ts'
import { type Clock, monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'

const cleanup: Array<() => unknown> = []
after(async () => {
  for (const c of cleanup.reverse()) await Promise.resolve(c()).catch(() => {})
})

async function makeNode(name: string, clock: Clock): Promise<{ libp2p: TuttiLibp2p; party: PartyService }> {
  const privateKey = await generateKeyPair('Ed25519')
  const libp2p = await createTuttiLibp2p({ privateKey, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
  const party = createPartyService(
    { dataDir: mkdtempSync(join(tmpdir(), 'tutti-clock-party-')), displayName: name, heartbeatMs: 200 },
    { libp2p, clock, privateKey },
  )
  await party.start()
  cleanup.push(
    () => libp2p.stop(),
    () => party.stop(),
  )
  return { libp2p, party }
}

const AHEAD_MS = 7_000
const hostClock: Clock = { now: () => monotonicClock.now() + AHEAD_MS }

function clockStreams(libp2p: TuttiLibp2p): number {
  return libp2p
    .getConnections()
    .flatMap((c) => c.streams)
    .filter((s) => s.protocol === CLOCK_PROTOCOL).length
}

async function partyClockError(host: PartyService, member: PartyService): Promise<number> {
  await waitFor(() => member.status() !== undefined, 'the member to be in the party')
  await new Promise((resolve) => setTimeout(resolve, 1_500))
  const local = monotonicClock.now()
  return member.partyTimeOf(local) - host.partyTimeOf(local + AHEAD_MS)
}

for (const serves of [true, false]) {
  test(`a member follows the host's clock ${serves ? 'over /tutti/clock/1.0.0' : 'by pings when the host does not serve the clock protocol'}`, async () => {
    const host = await makeNode('Host', hostClock)
    const member = await makeNode('Member', monotonicClock)
    if (!serves) await host.libp2p.unhandle(CLOCK_PROTOCOL)
    const { invite } = await host.party.create({ name: 'Clocks' })
    await member.party.join(invite)
    const error = await partyClockError(host.party, member.party)
    console.log(`party clock error ${error.toFixed(3)} ms (clock protocol served: ${serves})`)
    assert.ok(Math.abs(error) < 5, `member's party time off by ${error} ms`)
    assert.equal(
      clockStreams(member.libp2p) > 0,
      serves,
      'a clock stream is open exactly when the host serves one',
    )
  })
}

test('a member whose clock stream fails samples by pings, then opens a new clock stream', async () => {
  const host = await makeNode('Host', hostClock)
  const member = await makeNode('Member', monotonicClock)
  // The host resets the first clock stream it is asked for, then serves as usual.
  await host.libp2p.unhandle(CLOCK_PROTOCOL)
  let streams = 0
  await host.libp2p.handle(CLOCK_PROTOCOL, (stream) => {
    streams++
    if (streams === 1) stream.abort(new Error('test: the first clock stream fails'))
    else serveClockStream(stream, hostClock)
  })
  const { invite } = await host.party.create({ name: 'Clocks' })
  await member.party.join(invite)
  await waitFor(() => streams >= 2 && clockStreams(member.libp2p) > 0, 'a second clock stream', {
    timeoutMs: 10_000,
  })
  const error = await partyClockError(host.party, member.party)
  assert.ok(Math.abs(error) < 5, `member's party time off by ${error} ms`)
})
