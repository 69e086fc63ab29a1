/** The public party directory: what other modules import. */
export {
  createDirectory,
  Directory,
  type DirectoryComponents,
  type DirectoryInit,
  type PartyAdvert,
} from './directory.ts'
export type { PublicParty } from './party-table.ts'
export { type JoinPolicy, type NowPlaying, PARTY_TOPIC } from './schema.ts'
