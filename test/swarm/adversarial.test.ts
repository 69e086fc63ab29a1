// A peer serving corrupt pieces is banned (for the song, then the node, across restarts) while the download completes from honest peers; malformed messages reset the stream and leave the node serving.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, test } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { encode } from 'cborg'
import { Uint8ArrayList } from 'uint8arraylist'
import { pieceLength } from '../../src/library/content-id.ts'
import { FramedStream } from '../../src/net/framed.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'
import { loadBanList } from '../../src/swarm/bans.ts'
import { fullBitfield } from '../../src/swarm/bitfield.ts'
import {
  clientMessageSchema,
  MAX_FRAME_BYTES,
  pieceFrameHeader,
  SWARM_PROTOCOL,
  serverMessageSchema,
} from '../../src/swarm/schema.ts'
import {
  cleanup,
  helloByHand,
  makeSong,
  startNode,
  type TestNode,
  type TestSong,
  tempDir,
} from './helpers.ts'

const nodes: TestNode[] = []
const raw: TuttiLibp2p[] = []
const dirs: string[] = []
after(async () => {
  await Promise.all([...nodes.map((n) => n.stop().catch(() => {})), ...raw.map((n) => n.stop())])
  await cleanup(...dirs, ...nodes.map((n) => n.dataDir))
})

/** Speaks the swarm protocol correctly but flips a byte in every piece it sends, and answers fast. */
async function startEvilSeeder(
  song: TestSong,
): Promise<{ libp2p: TuttiLibp2p; addr: string; served: () => number }> {
  const libp2p = await createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 })
  raw.push(libp2p)
  let served = 0
  await libp2p.handle(SWARM_PROTOCOL, async (stream) => {
    const framed = new FramedStream(stream, clientMessageSchema, serverMessageSchema, {
      maxMessageBytes: MAX_FRAME_BYTES,
    })
    try {
      for await (const m of framed.messages()) {
        if (m.t === 'hello') {
          await framed.write({
            t: 'handshake',
            manifest: m.wantManifest ? song.manifest : undefined,
            have: fullBitfield(song.manifest.pieceHashes.byteLength / 32),
            load: 0,
            choked: false,
          })
        } else if (m.t === 'request') {
          const start = m.piece * song.manifest.pieceSize
          const data = new Uint8Array(song.bytes.subarray(start, start + pieceLength(song.manifest, m.piece)))
          data[0] ^= 0xff
          served++
          framed.stream.send(new Uint8ArrayList(pieceFrameHeader(m.piece, data.byteLength), data))
        }
      }
    } catch {}
  })
  return { libp2p, addr: libp2p.getMultiaddrs()[0]!.toString(), served: () => served }
}

const full = (n: TestNode): string => n.addr

test('a peer serving corrupt pieces is banned and the download completes from an honest seeder', async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 1024 * 1024 + 77)
  const evil = await startEvilSeeder(song)
  // The honest seeder is slow, so the evil one is asked first and often.
  const honest = await startNode({ songs: [song], swarm: { uploadRateBytes: 512 * 1024 } })
  const leecher = await startNode()
  nodes.push(honest, leecher)
  const banned: string[] = []
  leecher.swarm.on('peer:banned', (e) => banned.push(e.peerId))
  const info = await leecher.swarm.download(song.cid, {
    providers: [evil.addr, full(honest)],
    signal: AbortSignal.timeout(60_000),
  })
  assert.ok(evil.served() > 0, 'the corrupt peer was asked for pieces')
  assert.deepEqual(banned, [evil.libp2p.peerId.toString()])
  assert.deepEqual(info.banned, [evil.libp2p.peerId.toString()])
  assert.ok((await readFile(info.path!)).equals(song.bytes), 'no corrupt byte reached the library')
  // The offence is on disk: a restarted node still refuses the peer for this song.
  const bans = await loadBanList(`${leecher.dataDir}/swarm-bans.json`)
  assert.equal(bans.isBannedFor(evil.libp2p.peerId.toString(), song.cid), true)
})

test('repeat offenders are banned from the node, and the ban survives a restart', async () => {
  const dir = await tempDir('bans')
  dirs.push(dir)
  const path = `${dir}/swarm-bans.json`
  const bans = await loadBanList(path)
  assert.equal(await bans.recordOffence('peerA', 'song1'), false)
  assert.equal(await bans.recordOffence('peerA', 'song2'), false)
  assert.equal(bans.isBanned('peerA'), false)
  assert.equal(await bans.recordOffence('peerA', 'song3'), true)
  const reloaded = await loadBanList(path)
  assert.equal(reloaded.isBanned('peerA'), true)
  assert.equal(reloaded.isBannedFor('peerA', 'any-other-song'), true)
  assert.equal(reloaded.isBanned('peerB'), false)
})

test('malformed frames reset the stream and the node keeps serving', async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 300 * 1024)
  const seeder = await startNode({ songs: [song] })
  nodes.push(seeder)
  const attacker = await createTuttiLibp2p({
    mdns: false,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    autoDialBelow: 0,
  })
  raw.push(attacker)
  const attacks: Array<[string, Uint8Array]> = [
    ['garbage CBOR', new Uint8Array([5, 0xff, 0xff, 0xff, 0xff, 0xff])],
    ['wrong shape', frame(encode({ t: 'hello', cid: 42 }))],
    ['oversized length prefix', new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x7f])],
    ['request before hello', frame(encode({ t: 'request', piece: 0 }))],
  ]
  for (const [what, bytes] of attacks) {
    const stream = await attacker.dialProtocol(multiaddr(full(seeder)), SWARM_PROTOCOL)
    stream.send(bytes)
    const closed = await new Promise<boolean>((resolve) => {
      stream.addEventListener('close', () => resolve(true), { once: true })
      setTimeout(() => resolve(false), 10_000)
    })
    assert.ok(closed, `${what}: the seeder closed the stream`)
  }
  // A request for a piece past the end after a proper hello also resets.
  {
    const wire = await helloByHand(attacker, full(seeder), song.cid)
    wire.send({ t: 'request', piece: 60_000 })
    const rest: string[] = []
    try {
      for (let m = await wire.read(); m !== undefined; m = await wire.read()) rest.push(m.t)
    } catch {}
    assert.ok(!rest.includes('piece'), 'no piece for an out-of-range request')
    assert.equal(wire.stream.status === 'open', false, 'the seeder reset the stream')
  }
  const leecher = await startNode()
  nodes.push(leecher)
  const info = await leecher.swarm.download(song.cid, {
    providers: [full(seeder)],
    signal: AbortSignal.timeout(30_000),
  })
  assert.ok((await readFile(info.path!)).equals(song.bytes), 'the seeder still serves after the attacks')
})

function frame(body: Uint8Array): Uint8Array {
  // varint length prefix (bodies here are < 128 bytes)
  return new Uint8Array([body.byteLength, ...body])
}

test('a provider answering with malformed frames is dropped; the leecher completes from an honest seeder and keeps running', async () => {
  const dir = await tempDir('songs')
  dirs.push(dir)
  const song = await makeSong(dir, 400 * 1024)
  const attacks: Uint8Array[] = [
    new Uint8Array([5, 0xff, 0xff, 0xff, 0xff, 0xff]), // garbage CBOR
    frame(encode({ t: 'handshake', manifest: 'not a manifest', have: 7 })), // wrong shape
    new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x7f]), // oversized length prefix
  ]
  const liars: TuttiLibp2p[] = []
  let answered = 0
  for (const bytes of attacks) {
    const liar = await createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 })
    raw.push(liar)
    liars.push(liar)
    await liar.handle(SWARM_PROTOCOL, (stream) => {
      answered++
      stream.send(bytes) // whatever the leecher says, this is the answer
    })
  }
  const leecher = await startNode()
  nodes.push(leecher)
  // First only the liars: the download must not break, and the node must stay up.
  leecher.swarm.startDownload(song.cid, { providers: liars.map((l) => l.getMultiaddrs()[0]!.toString()) })
  for (let i = 0; i < 100 && answered < attacks.length; i++) await new Promise((r) => setTimeout(r, 50))
  assert.equal(answered, attacks.length, 'every liar was asked')
  const during = leecher.swarm.get(song.cid)
  assert.ok(during !== undefined && during.state !== 'failed', `still downloading: ${during?.state}`)
  // Then an honest seeder appears.
  const seeder = await startNode({ songs: [song] })
  nodes.push(seeder)
  const info = await leecher.swarm.download(song.cid, {
    providers: [full(seeder)],
    signal: AbortSignal.timeout(30_000),
  })
  assert.ok((await readFile(info.path!)).equals(song.bytes), 'exact bytes from the honest seeder')
})
