/**
 * Wire schema of the party directory: CBOR messages on the gossipsub topic
 * `/tutti/parties/1`. A host announces each public party periodically; a
 * withdrawal removes it at once. Bounded in size; a message whose host is not
 * the gossipsub signer is rejected (nobody can announce a party for someone else).
 */
import { z } from 'zod'

export const PARTY_TOPIC = '/tutti/parties/1'
export const MAX_DIRECTORY_MESSAGE_BYTES = 8 * 1024

export const JoinPolicy = z.enum(['open', 'ask', 'invite'])
export type JoinPolicy = z.infer<typeof JoinPolicy>

export const NowPlaying = z
  .object({
    title: z.string().max(200),
    artist: z.string().max(200),
    cid: z.string().max(128).optional(),
  })
  .strict()
export type NowPlaying = z.infer<typeof NowPlaying>

export const PartyAnnouncement = z
  .object({
    type: z.literal('announce'),
    partyId: z.string().min(1).max(128),
    name: z.string().min(1).max(100),
    host: z
      .object({ peerId: z.string().min(1).max(128), addrs: z.array(z.string().max(300)).max(8) })
      .strict(),
    members: z.number().int().min(0).max(100_000),
    nowPlaying: NowPlaying.optional(),
    joinPolicy: JoinPolicy,
    /** Increases with every announcement of this party by this host: older copies are ignored. */
    seq: z.number().int().min(0),
    /** Forget the party this long after the last announcement. */
    ttlMs: z.number().int().min(1_000).max(600_000),
  })
  .strict()
export type PartyAnnouncement = z.infer<typeof PartyAnnouncement>

export const PartyWithdrawal = z
  .object({
    type: z.literal('withdraw'),
    partyId: z.string().min(1).max(128),
    hostPeerId: z.string().min(1).max(128),
    seq: z.number().int().min(0),
  })
  .strict()
export type PartyWithdrawal = z.infer<typeof PartyWithdrawal>

export const DirectoryMessage = z.discriminatedUnion('type', [PartyAnnouncement, PartyWithdrawal])
export type DirectoryMessage = z.infer<typeof DirectoryMessage>
