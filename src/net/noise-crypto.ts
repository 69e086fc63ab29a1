/**
 * noise's crypto, with two per-call costs of its Node implementation removed.
 *
 * - **HKDF.** @chainsafe/libp2p-noise hashes, agrees X25519 keys and runs
 *   ChaCha20-Poly1305 with node:crypto, but keeps the pure-JS HKDF of
 *   @noble/hashes, four calls per side per handshake. In a fresh process that
 *   code runs interpreted until V8 optimises it: calls 2–21 averaged 0.24 ms
 *   against 0.017 ms for `hkdfSync` (both ~13 µs once warm). A cold N = 9
 *   swarm start is ~45 handshakes in ten fresh processes: 0.5–0.6 s less CPU
 *   in all (three interleaved pairs of bench:swarm runs, 13.3–14.3 s).
 *   Noise's HKDF (salt = chaining key, no info, three 32-byte outputs) is
 *   RFC 5869 HKDF-SHA256, which `hkdfSync` computes.
 * - **The session key.** Every frame of 1,200 bytes or more goes to
 *   `createCipheriv`/`createDecipheriv` with the raw 32-byte key, which Node
 *   turns into a key object each time: 63.5 µs to decrypt a full 65,519-byte
 *   frame against 34.9 µs with a `KeyObject` made once (2,000 bytes: 16.1
 *   against 5.4). A transport's key never changes (libp2p's noise does not
 *   rekey), so its `KeyObject` is kept beside it; the bytes are compared on
 *   every use all the same, so a changed key can never encrypt with a stale one.
 *   bench:swarm's uncapped pair, three interleaved pairs of runs: 64–67 →
 *   66–75 MiB/s, 21.4–22.8 → 18.7–21.2 ms of CPU per MiB (its bare-stream
 *   baseline runs on the same transport and gains too, so that ratio holds).
 *
 * Shorter frames keep noise's own path (its wasm ChaCha, faster there). The
 * tests check keys and ciphertexts against noise's own, and a handshake and
 * traffic with a stock-noise libp2p node.
 */
import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto'
import { defaultCrypto, nodeCrypto } from '@chainsafe/libp2p-noise/crypto'

type NoiseCrypto = typeof defaultCrypto

const NO_INFO = new Uint8Array(0)
/** Below this, noise uses its wasm ChaCha20-Poly1305 (its own threshold). */
const NODE_CIPHER_MIN_BYTES = 1200

export function noiseHkdf(
  chainingKey: Uint8Array,
  inputKeyMaterial: Uint8Array,
): [Uint8Array, Uint8Array, Uint8Array] {
  const okm = new Uint8Array(hkdfSync('sha256', inputKeyMaterial, chainingKey, NO_INFO, 96))
  return [okm.subarray(0, 32), okm.subarray(32, 64), okm.subarray(64, 96)]
}

const keyObjects = new WeakMap<Uint8Array, { bytes: Buffer; key: KeyObject }>()

function keyObjectFor(k: Uint8Array): KeyObject {
  const cached = keyObjects.get(k)
  if (cached?.bytes.equals(k)) return cached.key
  const key = createSecretKey(k)
  keyObjects.set(k, { bytes: Buffer.from(k), key })
  return key
}

/** node:crypto accepts a `KeyObject` wherever noise passes the raw key. */
const asKey = (key: KeyObject): Uint8Array => key as unknown as Uint8Array

export const noiseCrypto: NoiseCrypto = {
  ...defaultCrypto,
  getHKDF: noiseHkdf,
  chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
    if (plaintext.byteLength < NODE_CIPHER_MIN_BYTES)
      return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    return nodeCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, asKey(keyObjectFor(k)))
  },
  chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst) {
    if (ciphertext.byteLength < NODE_CIPHER_MIN_BYTES)
      return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
    return nodeCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, asKey(keyObjectFor(k)), dst)
  },
}
