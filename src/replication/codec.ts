/**
 * How party data sits inside Raft: a normal entry's bytes are one
 * `PartyLogEntry`, a snapshot's bytes are the party state plus the count of
 * party entries applied so far (so party indexes stay contiguous across
 * replicas even though Raft indexes also count no-op and membership
 * entries). JSON: exact for the numbers and strings the state holds, and it
 * drops `undefined` optionals the same way on every replica.
 */
import type { PartyLogEntry, PartyState } from '../party/state.ts'

export interface PartySnapshot {
  partyIndex: number
  state: PartyState
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeEntry(entry: PartyLogEntry): Uint8Array {
  return encoder.encode(JSON.stringify(entry))
}

export function decodeEntry(data: Uint8Array): PartyLogEntry {
  return JSON.parse(decoder.decode(data)) as PartyLogEntry
}

export function encodeSnapshot(snapshot: PartySnapshot): Uint8Array {
  return encoder.encode(JSON.stringify(snapshot))
}

export function decodeSnapshot(data: Uint8Array): PartySnapshot {
  return JSON.parse(decoder.decode(data)) as PartySnapshot
}
