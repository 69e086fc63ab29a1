/**
 * Public surface of the pure Raft core (see README.md). The shell that runs it
 * on libp2p — driver, transport, wire schema — is src/replication/.
 */
export {
  InvalidConfChangeError,
  NotLeaderError,
  ProposalDroppedError,
  StorageCorruptError,
} from './errors.ts'
export type { Message } from './messages.ts'
export { type Proposed, Raft, type RaftInitialState, type RaftOptions, type Ready } from './raft.ts'
export { mathRandom, type Random, seededRandom } from './random.ts'
export { openRaftStorage, type RaftStorage } from './storage.ts'
export * from './types.ts'
