/**
 * noise's crypto with the handshake's HKDF from node:crypto.
 *
 * @chainsafe/libp2p-noise's Node crypto uses node:crypto for hashing, X25519
 * and ChaCha20-Poly1305 but keeps the pure-JS HKDF of @noble/hashes. A
 * handshake runs it four times per side. In a fresh process noble's SHA-256
 * runs interpreted until V8 optimises it: calls 2–21 averaged 0.24 ms against
 * 0.017 ms for `hkdfSync` (both ~13 µs once warm). A cold N = 9 swarm start
 * is ~45 handshakes in ten fresh processes: with this, 0.5–0.6 s less CPU in
 * all (three interleaved pairs of bench:swarm runs, 13.3–14.3 s). Noise's
 * HKDF (salt = chaining key, no info, three 32-byte outputs) is RFC 5869
 * HKDF-SHA256, which `hkdfSync` computes; the test checks the two agree and
 * that Tutti still handshakes with a stock noise peer.
 */
import { hkdfSync } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'

type NoiseCrypto = typeof defaultCrypto

const NO_INFO = new Uint8Array(0)

export function noiseHkdf(
  chainingKey: Uint8Array,
  inputKeyMaterial: Uint8Array,
): [Uint8Array, Uint8Array, Uint8Array] {
  const okm = new Uint8Array(hkdfSync('sha256', inputKeyMaterial, chainingKey, NO_INFO, 96))
  return [okm.subarray(0, 32), okm.subarray(32, 64), okm.subarray(64, 96)]
}

export const noiseCrypto: NoiseCrypto = { ...defaultCrypto, getHKDF: noiseHkdf }
