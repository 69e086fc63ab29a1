// The TCP transport as Tutti configures it: one system write per send, and no per-host limit on loopback.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { after, test } from 'node:test'
import type { MultiaddrConnection } from '@libp2p/interface'
import { corkSends } from '../../src/net/corked-tcp.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../../src/net/libp2p.ts'

const nodes: TuttiLibp2p[] = []
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
})

/** A connected socket pair on loopback. */
async function socketPair(): Promise<{ client: Socket; server: Socket; close(): void }> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  const accepted = once(server, 'connection')
  const client = connect(port, '127.0.0.1')
  await once(client, 'connect')
  const [peer] = (await accepted) as [Socket]
  return {
    client,
    server: peer,
    close: () => {
      client.destroy()
      peer.destroy()
      server.close()
    },
  }
}

test('a send of several buffers leaves the socket as one write, with its bytes in order', async () => {
  const { client, server, close } = await socketPair()
  try {
    // What @libp2p/tcp's connection does: one socket.write per buffer of the list.
    const conn = {
      socket: client,
      sendData(list: Uint8Array[]) {
        for (const buf of list) client.write(buf)
        return { sentBytes: list.reduce((n, b) => n + b.byteLength, 0), canSendMore: true }
      },
    }
    const writes: number[] = []
    const internals = client as unknown as Record<string, (...a: unknown[]) => unknown>
    for (const method of ['_write', '_writev']) {
      const original = internals[method]!.bind(client)
      internals[method] = (chunk: unknown, ...rest: unknown[]) => {
        writes.push(Array.isArray(chunk) ? chunk.length : 1)
        return original(chunk, ...rest)
      }
    }
    const message = [Uint8Array.of(0, 5), Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5)]
    conn.sendData(message)
    assert.deepEqual(writes, [1, 1, 1], 'unwrapped: one write per buffer')
    writes.length = 0
    corkSends(conn as unknown as MultiaddrConnection)
    const received: Buffer[] = []
    server.on('data', (d: Buffer) => received.push(d))
    conn.sendData(message)
    assert.deepEqual(writes, [3], 'corked: the three buffers in one writev')
    while (Buffer.concat(received).byteLength < 7 + 7) await once(server, 'data')
    assert.deepEqual([...Buffer.concat(received)], [0, 5, 1, 2, 3, 4, 5, 0, 5, 1, 2, 3, 4, 5])
  } finally {
    close()
  }
})

test('a connection without a socket (another transport) is left as it is', () => {
  const sendData = (): void => {}
  const conn = { sendData }
  corkSends(conn as unknown as MultiaddrConnection)
  assert.equal(conn.sendData, sendData)
})

test('eight nodes on this machine connect to one node within the same second', async () => {
  // libp2p refuses a host's sixth inbound connection in a second; every peer here is 127.0.0.1.
  const hub = await createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 })
  nodes.push(hub)
  const others = await Promise.all(
    Array.from({ length: 8 }, () =>
      createTuttiLibp2p({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], autoDialBelow: 0 }),
    ),
  )
  nodes.push(...others)
  const results = await Promise.allSettled(
    others.map((n) => n.dial(hub.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(20_000) })),
  )
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []))
  assert.deepEqual(failed, [])
  // And data crosses the corked transport intact.
  const echoed = await hub.services.ping.ping(others[7]!.peerId)
  assert.ok(echoed >= 0)
})
