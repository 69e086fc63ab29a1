// noise with node:crypto's HKDF and a kept session KeyObject: the same bytes as noise's own, and Tutti still talks to stock noise.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, test } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { defaultCrypto, pureJsCrypto } from '@chainsafe/libp2p-noise/crypto'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import { createTuttiLibp2p } from '../../src/net/libp2p.ts'
import { noiseCrypto, noiseHkdf } from '../../src/net/noise-crypto.ts'

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

const bytesOf = (x: { subarray(): Uint8Array }): Buffer => Buffer.from(x.subarray())
/** noise depends on its own copy of uint8arraylist: same class, another type identity. */
const list = (...chunks: Uint8Array[]) => new Uint8ArrayList(...chunks) as never

test('frames encrypt to the bytes noise itself produces and decrypt back, whole or in chunks, either side of the size where the cipher changes', () => {
  const k = randomBytes(32)
  const ad = new Uint8Array(0)
  for (const size of [0, 1, 1199, 1200, 2000, 65519]) {
    for (let n = 0; n < 3; n++) {
      const nonce = Buffer.alloc(12)
      nonce.writeUInt32LE(n, 4)
      const plain = randomBytes(size)
      const ours = bytesOf(noiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k))
      assert.deepEqual(
        ours,
        bytesOf(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k)),
        `size ${size}`,
      )
      const chunked = list(plain.subarray(0, size >> 1), plain.subarray(size >> 1))
      assert.deepEqual(bytesOf(noiseCrypto.chaCha20Poly1305Encrypt(chunked, nonce, ad, k)), ours)
      assert.deepEqual(bytesOf(noiseCrypto.chaCha20Poly1305Decrypt(ours, nonce, ad, k)), plain)
      const split = list(ours.subarray(0, 7), ours.subarray(7))
      assert.deepEqual(bytesOf(noiseCrypto.chaCha20Poly1305Decrypt(split, nonce, ad, k)), plain)
      const forged = Buffer.from(ours)
      forged[forged.length >> 1]! ^= 1
      assert.throws(
        () => noiseCrypto.chaCha20Poly1305Decrypt(forged, nonce, ad, k),
        'a forged frame is refused',
      )
    }
  }
})

test('a key changed in place is never used stale', () => {
  const k = randomBytes(32)
  const nonce = Buffer.alloc(12)
  const plain = randomBytes(4000)
  const before = bytesOf(noiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, new Uint8Array(0), k))
  k[0]! ^= 0xff
  const after = bytesOf(noiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, new Uint8Array(0), k))
  assert.notDeepEqual(after, before)
  assert.deepEqual(after, bytesOf(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, new Uint8Array(0), k)))
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
  // Full-size frames each way: what one side encrypts, the other decrypts.
  for (const [server, client] of [
    [stock, tutti],
    [tutti, stock],
  ] as const) {
    await server.handle(PATTERN_PROTOCOL, async (stream) => {
      for (let sent = 0; sent < PATTERN_BYTES; sent += 64 * 1024) {
        if (!stream.send(pattern.subarray(sent, sent + 64 * 1024))) {
          await new Promise((resolve) => stream.addEventListener('drain', resolve, { once: true }))
        }
      }
      await stream.close()
    })
    const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, PATTERN_PROTOCOL)
    const got = new Uint8ArrayList()
    for await (const chunk of stream) {
      got.append(chunk)
      if (got.byteLength >= PATTERN_BYTES) break
    }
    assert.ok(Buffer.from(got.subarray()).equals(pattern), 'the bytes arrive intact')
  }
})

const PATTERN_PROTOCOL = '/tutti-test/pattern/1.0.0'
const PATTERN_BYTES = 300 * 1024
const pattern = Buffer.from(Array.from({ length: PATTERN_BYTES }, (_, i) => (i * 7) & 0xff))
