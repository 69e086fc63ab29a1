// Share settings in the swarm: a song from a 'nobody' folder is never served nor announced, a 'party' one only to party members, an 'everyone' one to anyone.
import assert from 'node:assert/strict'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { mayShare, type ShareSettings } from '../../src/search/share.ts'
import { waitFor } from '../helpers/wait.ts'
import { cleanup, makeSong, startNode, type TestNode, type TestSong, tempDir } from './helpers.ts'

const nodes: TestNode[] = []
const dirs: string[] = []
const members = new Set<string>()
let seeder: TestNode
let stranger: TestNode
let member: TestNode
let open: TestSong
let secret: TestSong
let tape: TestSong
const provided = new Set<string>()

before(async () => {
  const dir = await tempDir('share')
  dirs.push(dir)
  for (const sub of ['open', 'private', 'party']) await mkdir(join(dir, sub))
  open = await makeSong(join(dir, 'open'), 200 * 1024)
  secret = await makeSong(join(dir, 'private'), 200 * 1024)
  tape = await makeSong(join(dir, 'party'), 200 * 1024)
  const settings: ShareSettings = {
    defaultScope: 'everyone',
    folders: [
      { path: join(dir, 'private'), scope: 'nobody' },
      { path: join(dir, 'party'), scope: 'party' },
    ],
  }
  // A DHT peer to hold provider records, so announcements can be observed.
  const middle = await startNode({ swarm: { dht: true } })
  seeder = await startNode({
    songs: [open, secret, tape],
    swarm: { dht: true },
    sharing: {
      mayServe: (peerId, path) => mayShare(settings, path, members.has(peerId)),
      announce: (path) => mayShare(settings, path, false),
    },
  })
  seeder.swarm.on('song:provided', (e) => provided.add(e.cid))
  const leecher = { swarm: { providerTimeoutMs: 2_000 } }
  stranger = await startNode(leecher)
  member = await startNode(leecher)
  nodes.push(middle, seeder, stranger, member)
  members.add(member.libp2p.peerId.toString())
  await seeder.libp2p.dial(multiaddr(middle.addr))
})

after(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})))
  await cleanup(...dirs, ...nodes.map((n) => n.dataDir))
})

const from = () => ({ providers: [seeder.addr], signal: AbortSignal.timeout(30_000) })

test('a stranger gets the everyone song, and no provider for the party or nobody songs', async () => {
  const info = await stranger.swarm.download(open.cid, from())
  assert.ok((await readFile(info.path!)).equals(open.bytes))
  await assert.rejects(stranger.swarm.download(secret.cid, from()), { code: 'NO_PROVIDERS' })
  await assert.rejects(stranger.swarm.download(tape.cid, from()), { code: 'NO_PROVIDERS' })
})

test('a party member gets the party song, still not the nobody song', async () => {
  const info = await member.swarm.download(tape.cid, from())
  assert.ok((await readFile(info.path!)).equals(tape.bytes))
  await assert.rejects(member.swarm.download(secret.cid, from()), { code: 'NO_PROVIDERS' })
})

test('only the everyone song is announced in the DHT', async () => {
  await waitFor(() => provided.has(open.cid), 'the everyone song to be announced', { timeoutMs: 60_000 })
  // Announcements all start when the swarm starts: by now the others would have been made too.
  assert.equal(provided.has(secret.cid), false)
  assert.equal(provided.has(tape.cid), false)
})
