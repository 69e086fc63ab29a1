// mDNS discovery between two hosts on a bridged LAN (network namespaces): no bootstrap, they find and connect to each other.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { createTestLan, netnsUnavailableReason } from '../helpers/netns.ts'
import { waitFor } from '../helpers/wait.ts'

const reason = netnsUnavailableReason()

test('two nodes on one LAN find each other by mDNS', { skip: reason }, async () => {
  const lan = createTestLan('tmdns', 2)
  const children: ChildProcess[] = []
  try {
    const seen = lan.hosts.map(() => ({ self: '', connected: new Set<string>() }))
    lan.hosts.forEach((host, i) => {
      const child = spawn(
        'ip',
        ['netns', 'exec', host.ns, process.execPath, 'test/net/fixtures/mdns-node.ts'],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      )
      children.push(child)
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line) as { self?: string; connected?: string }
        if (msg.self !== undefined) seen[i].self = msg.self
        if (msg.connected !== undefined) seen[i].connected.add(msg.connected)
      })
    })
    await waitFor(
      () => seen[0].connected.has(seen[1].self) && seen[1].connected.has(seen[0].self),
      'mDNS discovery',
      {
        timeoutMs: 30_000,
      },
    )
    assert.notEqual(seen[0].self, seen[1].self)
  } finally {
    for (const child of children) child.kill('SIGTERM')
    lan.destroy()
  }
})
