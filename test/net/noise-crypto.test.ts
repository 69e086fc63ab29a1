// noise's handshake HKDF from node:crypto: the same bytes as noise's own, and Tutti still talks to stock noise.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, test } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { pureJsCrypto } from '@chainsafe/libp2p-noise/crypto'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { createTuttiLibp2p } from '../../src/net/libp2p.ts'
import { noiseHkdf } from '../../src/net/noise-crypto.ts'

const nodes: Libp2p[] = []
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
})

test('noiseHkdf gives the three keys noise computes itself, for any chaining key and input', () => {
  for (let i = 0; i < 200; i++) {
    const ck = randomBytes(32)
    // Noise mixes in DH outputs (32 bytes) and, with a pre-shared key, other lengths: vary it.
    const ikm = randomBytes(i % 3 === 0 ? 32 : 1 + (i % 64))
    const ours = noiseHkdf(ck, ikm)
    const theirs = pureJsCrypto.getHKDF(ck, ikm)
    assert.equal(ours.length, 3)
    for (let k = 0; k < 3; k++) {
      assert.equal(ours[k].byteLength, 32)
      assert.deepEqual(Buffer.from(ours[k]), Buffer.from(theirs[k]), `key ${k + 1} of case ${i}`)
    }
  }
})

test('a Tutti node and a libp2p node with stock noise connect both ways and talk', async () => {
  const tutti = await createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 })
  const stock = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
  })
  nodes.push(tutti, stock)
  const out = await tutti.dial(stock.getMultiaddrs()[0]!)
  assert.equal(out.remotePeer.toString(), stock.peerId.toString())
  await out.close()
  const back = await stock.dial(tutti.getMultiaddrs()[0]!)
  assert.equal(back.remotePeer.toString(), tutti.peerId.toString())
  // identify runs over the encrypted, muxed connection: bytes pass both ways after the handshake.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('identify did not complete')), 10_000)
    const check = async (): Promise<void> => {
      const peer = await stock.peerStore.get(tutti.peerId).catch(() => undefined)
      if (peer !== undefined && peer.protocols.length > 0) {
        clearTimeout(timer)
        resolve()
      } else setTimeout(() => void check(), 50)
    }
    void check()
  })
})
