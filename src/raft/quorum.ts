/** Majority arithmetic over a set of voters. */
import type { NodeId } from './types.ts'

export function quorumSize(voters: readonly NodeId[]): number {
  return Math.floor(voters.length / 2) + 1
}

/**
 * The largest index that a majority of voters have (their match indexes):
 * sort descending and take the quorum-th value. Missing voters count as 0.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0
  const matches = voters.map(matchOf).sort((a, b) => b - a)
  return matches[quorumSize(voters) - 1]
}

export type VoteResult = 'won' | 'lost' | 'pending'

/** Tally of votes from voters only: other nodes' answers never count. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0
  let rejected = 0
  for (const id of voters) {
    const v = votes.get(id)
    if (v === true) granted++
    else if (v === false) rejected++
  }
  const q = quorumSize(voters)
  if (granted >= q) return 'won'
  if (rejected > voters.length - q) return 'lost'
  return 'pending'
}
