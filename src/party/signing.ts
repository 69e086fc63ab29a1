/**
 * Signed commands: a member signs the CBOR bytes of {partyId, from, session,
 * seq, command} with its libp2p private key; anyone verifies them with the
 * public key embedded in the sender's peer id (Ed25519/secp256k1 ids carry
 * it). Signatures make a command attributable even when it is relayed, which
 * the Raft log will need when a follower forwards to a new leader.
 */
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { decodeMessage, encodeMessage } from '../net/framed.ts'
import { type SignedCommand, signedCommandSchema } from './schema.ts'

export async function signCommand(
  privateKey: PrivateKey,
  signed: SignedCommand,
): Promise<{ payload: Uint8Array; signature: Uint8Array }> {
  const payload = encodeMessage(signedCommandSchema, signed)
  return { payload, signature: await privateKey.sign(payload) }
}

/** Decodes and verifies; returns the command or a reason it is refused. Never throws. */
export async function verifySignedCommand(
  payload: Uint8Array,
  signature: Uint8Array,
): Promise<{ ok: true; signed: SignedCommand } | { ok: false; reason: string }> {
  let signed: SignedCommand
  try {
    signed = decodeMessage(signedCommandSchema, payload, 8192)
  } catch (err) {
    return { ok: false, reason: `malformed command: ${(err as Error).message}` }
  }
  let publicKey: ReturnType<typeof peerIdFromString>['publicKey']
  try {
    publicKey = peerIdFromString(signed.from).publicKey
  } catch {
    return { ok: false, reason: 'sender is not a valid peer id' }
  }
  if (publicKey === undefined) return { ok: false, reason: 'sender peer id carries no public key' }
  let valid = false
  try {
    valid = await publicKey.verify(payload, signature)
  } catch {
    valid = false
  }
  return valid ? { ok: true, signed } : { ok: false, reason: 'bad signature' }
}
