/**
 * Answers that travel back along the query path pass through nodes that are
 * neither the asker nor the provider. So that such a node cannot forge an
 * answer in another provider's name (point downloads at itself, invent
 * songs, understate a provider's load), the provider signs its answer with its
 * libp2p identity key and the asker checks the signature against the key in
 * the provider's peer id. Signed: the query id (no replay into another
 * search), the provider's id and addresses, its load, the hops the query
 * travelled and every hit. Not signed: `backHops`, which each forwarder
 * increments. A forwarder can still drop an answer; it cannot alter one.
 */
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { ResultMessage } from './schema.ts'

/** Domain separation: this key signs other things (noise handshakes, peer records). */
const DOMAIN = 'tutti/search-answer/1'

/** The bytes the provider signs: a fixed field order, so both sides build the same bytes. */
export function answerSigningBytes(result: ResultMessage): Uint8Array {
  const hits = result.hits.map((h) => [
    h.cid,
    h.title,
    h.artist,
    h.album,
    h.durationSec,
    h.size,
    h.format,
    h.score,
  ])
  return new TextEncoder().encode(
    JSON.stringify([
      DOMAIN,
      result.queryId,
      result.provider.peerId,
      result.provider.addrs,
      result.load,
      result.hops,
      hits,
    ]),
  )
}

export async function signAnswer(result: ResultMessage, key: PrivateKey): Promise<ResultMessage> {
  // A copy: the schema takes a plain ArrayBuffer-backed Uint8Array.
  return { ...result, signature: new Uint8Array(await key.sign(answerSigningBytes(result))) }
}

/**
 * Did the provider the answer names sign it? False without a signature, for a
 * peer id that does not embed its public key (RSA), or for a bad signature.
 */
export async function verifyAnswer(result: ResultMessage): Promise<boolean> {
  if (result.signature === undefined) return false
  try {
    const publicKey = peerIdFromString(result.provider.peerId).publicKey
    if (publicKey === undefined) return false
    return await publicKey.verify(answerSigningBytes(result), result.signature)
  } catch {
    return false
  }
}
