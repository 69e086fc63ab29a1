/** Public surface of the Raft module (see README.md). */
export {
  InvalidConfChangeError,
  NotLeaderError,
  ProposalDroppedError,
  StorageCorruptError,
} from './errors.ts'
export { createLibp2pRaftTransport, type Libp2pRaftTransport } from './libp2p-transport.ts'
export type { Message } from './messages.ts'
export {
  createRaftNode,
  type RaftApplication,
  type RaftNode,
  type RaftNodeInit,
  type RaftStatus,
  type RaftTransport,
} from './node.ts'
export { type Proposed, Raft, type RaftInitialState, type RaftOptions, type Ready } from './raft.ts'
export { mathRandom, type Random, seededRandom } from './random.ts'
export { openRaftStorage, type RaftStorage } from './storage.ts'
export * from './types.ts'
export { decodeRaftMessage, encodeRaftMessage, RAFT_PROTOCOL, raftMessageSchema } from './wire.ts'
