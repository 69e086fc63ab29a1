// A node taking over the party stamps its first command no earlier than what the old host proposed but did not get committed: the uncommitted tail of its Raft log commits before its own proposals, so a stamp earlier than the tail's would apply out of time order.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { createPartyService, type PartyService } from '../../src/party/service.ts'
import type { PartyLogEntry } from '../../src/party/state.ts'
import { openRaftStorage } from '../../src/raft/storage.ts'
import { encodeEntry } from '../../src/replication/codec.ts'
import { monotonicClock } from '../../src/shared/clock.ts'
import { waitFor } from '../helpers/wait.ts'

const song = (n: number) => ({ cid: `bafysong${n}`, title: `Song ${n}`, artist: 'Band', durationSec: 300 })

describe('stamps after a takeover', { timeout: 60_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tutti-stamps-'))
  let libp2p: TuttiLibp2p | undefined
  let party: PartyService | undefined

  after(async () => {
    await party?.stop().catch(() => {})
    await Promise.resolve(libp2p?.stop()).catch(() => {})
    await rm(dataDir, { recursive: true, force: true })
  })

  it('a new leader never stamps before an entry of its uncommitted tail', async () => {
    const privateKey = await generateKeyPair('Ed25519')
    libp2p = await createTuttiLibp2p({ privateKey, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
    const self = libp2p.peerId.toString()
    const service = (): PartyService =>
      createPartyService(
        { dataDir, displayName: 'Host' },
        { libp2p: libp2p as TuttiLibp2p, clock: monotonicClock, privateKey },
      )

    party = service()
    await party.start()
    const { status } = await party.create({ name: 'Stamps' })
    await party.command({ type: 'enqueue', song: song(1) })
    await party.stop()

    // What the old leader left behind: a proposal stamped a minute ahead, on disk but not committed.
    const ahead = monotonicClock.now() + 60_000
    const tail: PartyLogEntry = {
      command: { type: 'enqueue', song: song(2) },
      from: self,
      effectivePartyTime: ahead,
    }
    const storage = await openRaftStorage(join(dataDir, `party-${status.partyId}`))
    const disk = storage.initialState()
    const lastIndex = disk.entries.at(-1)?.index ?? disk.snapshot?.index ?? 0
    const term = disk.hardState?.term ?? 1
    assert.ok((disk.hardState?.commit ?? 0) <= lastIndex, 'the tail entry lies beyond the commit index')
    await storage.save({
      hardState: null,
      snapshot: null,
      entries: [{ index: lastIndex + 1, term, type: 'normal', data: encodeEntry(tail) }],
    })
    await storage.close()

    // The node comes back from its disk, is elected and takes over with that entry uncommitted in its log.
    party = service()
    await party.start()
    await waitFor(() => party?.status()?.role === 'host', 'the node leads its party again')
    await waitFor(() => party?.status()?.queue.length === 2, 'the old tail commits')
    await party.command({ type: 'play' })
    const timeline = party.status()?.timeline ?? assert.fail('no party')
    assert.equal(timeline.paused, false)
    assert.ok(
      timeline.anchorPartyTime >= ahead,
      `play stamped at ${timeline.anchorPartyTime}, before the tail entry's ${ahead}`,
    )
  })
})
