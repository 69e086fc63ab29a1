// Real node processes: two nodes joined by --bootstrap list each other with RTTs; restart keeps the identity and the index; Ctrl-C stops cleanly.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { type NodeProcess, startNode, tutti } from '../helpers/node-process.ts'
import { waitFor } from '../helpers/wait.ts'

const running: NodeProcess[] = []
after(async () => {
  await Promise.all(running.map((n) => n.stop('SIGKILL')))
})

test('two nodes started with --bootstrap find each other, ping, and list each other', async () => {
  const a = await startNode([])
  running.push(a)
  const b = await startNode(['--bootstrap', a.listenAddrs[0], '--upload-rate', '2MiB', '--max-peers', '7'])
  running.push(b)
  // The swarm limits given on the command line are the ones in force.
  const limits = (JSON.parse(tutti(['status', '--data', b.dataDir, '--json']).stdout) as { limits: unknown })
    .limits
  assert.deepEqual(limits, { uploadRateBytes: 2 * 1024 * 1024, maxPeers: 7, maxRequests: 256 })
  type Peer = { peerId: string; connected: boolean; rttMs?: number; addresses: string[] }
  const peersOf = (n: NodeProcess): Peer[] => {
    const r = tutti(['peers', '--data', n.dataDir, '--json'])
    assert.equal(r.status, 0, r.stderr)
    return JSON.parse(r.stdout) as Peer[]
  }
  await waitFor(
    () => peersOf(b).some((p) => p.peerId === a.peerId && p.connected && p.rttMs !== undefined),
    'b to list a with an RTT',
  )
  await waitFor(
    () => peersOf(a).some((p) => p.peerId === b.peerId && p.connected && p.rttMs !== undefined),
    'a to list b with an RTT',
  )
  const human = tutti(['peers', '--data', b.dataDir])
  assert.match(human.stdout, new RegExp(`${a.peerId}\\s+connected\\s+[\\d.]+ ms`))
})

test('a restarted node keeps its peer id and its index, and hashes no unchanged file again', async () => {
  const first = await startNode([])
  const status1 = JSON.parse(tutti(['status', '--data', first.dataDir, '--json']).stdout) as {
    peerId: string
    songs: number
  }
  assert.equal(await first.stop('SIGINT'), 0, 'Ctrl-C exits 0')
  assert.ok(first.output.includes('stopped'), 'clean shutdown is reported')

  const second = await startNode([], { dataDir: first.dataDir, env: { DEBUG: '' } })
  running.push(second)
  assert.equal(second.peerId, first.peerId)
  const status2 = JSON.parse(tutti(['status', '--data', second.dataDir, '--json']).stdout) as {
    peerId: string
    songs: number
  }
  assert.equal(status2.peerId, status1.peerId)
  assert.equal(status2.songs, status1.songs)
  assert.ok(status2.songs >= 6)
  assert.ok(
    second.output.some((l) => /hashed 0 files/.test(l)),
    `no file re-hashed:\n${second.output.join('\n')}`,
  )
})

test('CLI exit codes: usage error 2, no node running 3, node already running 4', async () => {
  assert.equal(tutti(['start', '--no-such-flag']).status, 2)
  assert.equal(tutti(['frobnicate']).status, 2)
  assert.equal(tutti(['status', '--data', '/nonexistent/tutti']).status, 3)
  const a = await startNode([])
  running.push(a)
  const again = tutti(['start', '--data', a.dataDir, '--api-port', '0', '--no-mdns'])
  assert.equal(again.status, 4, again.stderr)
  assert.match(again.stderr, /already running/)
  assert.equal(tutti(['--help']).status, 0)
})
