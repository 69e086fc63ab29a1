// Two nodes behind separate masquerading NAT routers (network namespaces) reach each other through a circuit relay v2 node: reservations, reachability, a relayed search, and whether DCUtR punched a hole.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { waitFor } from '../helpers/wait.ts'
import { createNatLab, natLabUnavailableReason } from './nat-lab.ts'

const reason = natLabUnavailableReason()
const RELAY_PORT = 4011

type Line = Record<string, unknown>

interface Proc {
  child: ChildProcess
  lines: Line[]
  send(command: unknown): void
  last<T>(key: string): T | undefined
}

function startPeer(ns: string, args: string[]): Proc {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, 'test/nat/fixtures/peer.ts', ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines: Line[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Line)
    } catch {
      // a stray log line
    }
  })
  return {
    child,
    lines,
    send: (command) => child.stdin?.write(`${JSON.stringify(command)}\n`),
    last: <T>(key: string) => lines.findLast((l) => key in l)?.[key] as T | undefined,
  }
}

interface Reach {
  status: string
  relayAddrs: string[]
}

test('nodes behind NAT reach each other through a relay', { skip: reason, timeout: 300_000 }, async (t) => {
  const lab = createNatLab(`tnat${process.pid}`, 1, 2)
  const procs: Proc[] = []
  try {
    const [relayHost] = lab.publicHosts
    const [hostA, hostB] = lab.privateHosts
    const relay = startPeer(relayHost.ns, ['--relay', 'true', '--port', String(RELAY_PORT)])
    procs.push(relay)
    await waitFor(() => relay.last('peerId') !== undefined, 'the relay to start', { timeoutMs: 30_000 })
    const relayAddr = `/ip4/${relayHost.address}/tcp/${RELAY_PORT}/p2p/${relay.last<string>('peerId')}`
    const a = startPeer(hostA.ns, ['--bootstrap', relayAddr])
    const b = startPeer(hostB.ns, ['--bootstrap', relayAddr, '--song', 'Jolene|Dolly Parton'])
    procs.push(a, b)
    await waitFor(
      () => a.last('peerId') !== undefined && b.last('peerId') !== undefined,
      'A and B to start',
      {
        timeoutMs: 30_000,
      },
    )
    const idA = a.last<string>('peerId') as string
    const idB = b.last<string>('peerId') as string

    // The relay sees A and B from their routers' public addresses: they really are behind NAT.
    await waitFor(
      () =>
        relay.lines.some((l) => (l.connection as { peer?: string } | undefined)?.peer === idA) &&
        relay.lines.some((l) => (l.connection as { peer?: string } | undefined)?.peer === idB),
      'A and B to connect to the relay',
      { timeoutMs: 30_000 },
    )
    const seenAt = (id: string): string => {
      const line = relay.lines.find((l) => (l.connection as { peer?: string } | undefined)?.peer === id)
      return (line?.connection as { remoteAddr?: string } | undefined)?.remoteAddr ?? ''
    }
    assert.ok(seenAt(idA).startsWith(`/ip4/${hostA.routerAddress}/`), `A is masqueraded (${seenAt(idA)})`)
    assert.ok(seenAt(idB).startsWith(`/ip4/${hostB.routerAddress}/`), `B is masqueraded (${seenAt(idB)})`)

    // Both take a reservation on the relay and call themselves private.
    await waitFor(
      () =>
        (a.last<Reach>('reachability')?.relayAddrs.length ?? 0) > 0 &&
        (b.last<Reach>('reachability')?.relayAddrs.length ?? 0) > 0,
      // Generous: under a heavily loaded machine the first reservation attempt can time out.
      `relay reservations (A: ${JSON.stringify(a.last('reachability'))}, B: ${JSON.stringify(b.last('reachability'))})`,
      { timeoutMs: 120_000 },
    )
    const reachB = b.last<Reach>('reachability') as Reach
    assert.equal(reachB.status, 'private')
    assert.ok(reachB.relayAddrs[0].includes(`/p2p/${relay.last<string>('peerId')}/p2p-circuit/p2p/${idB}`))

    // A cannot dial B's private address directly...
    const answer = async (id: string, addr: string): Promise<Line> => {
      a.send({ cmd: 'dial', id, addr })
      await waitFor(() => a.lines.some((l) => l.id === id), `the ${id} dial to end`, { timeoutMs: 30_000 })
      return a.lines.find((l) => l.id === id) as Line
    }
    const direct = await answer('direct', `/ip4/${hostB.address}/tcp/1/p2p/${idB}`)
    // libp2p may answer a dial by peer id with the relayed connection it already has (the DHT may
    // have reached B through the relay); what must never exist is a direct (unlimited, non-circuit)
    // connection to B.
    assert.ok(
      'error' in direct || (direct.limited === true && String(direct.remoteAddr).includes('/p2p-circuit')),
      `A must not reach B's private address directly: ${JSON.stringify(direct)}`,
    )
    // ...but reaches B through the relay.
    const relayed = await answer('relayed', reachB.relayAddrs[0])
    assert.equal(relayed.error, undefined, `relayed dial failed: ${JSON.stringify(relayed)}`)
    assert.ok(String(relayed.remoteAddr).includes('/p2p-circuit'), 'the connection runs through the relay')

    // Search works across it: B answers A over the relayed connection.
    a.send({ cmd: 'search', text: 'jolene' })
    await waitFor(() => a.last('searchDone') !== undefined, 'the search to finish', { timeoutMs: 30_000 })
    const hits = a.lines.filter((l) => 'hit' in l).map((l) => l.hit as { title: string; provider: string })
    assert.deepEqual(
      hits.map((h) => [h.title, h.provider]),
      [['Jolene', idB]],
    )

    // DCUtR: report (not assert) whether a direct, hole-punched connection replaced the relayed one.
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    a.send({ cmd: 'connections' })
    await waitFor(() => a.last('connections') !== undefined, 'the connection list')
    const toB = (
      a.last<Array<{ peer: string; remoteAddr: string; limited: boolean }>>('connections') ?? []
    ).filter((c) => c.peer === idB)
    t.diagnostic(`A→B connections after DCUtR window: ${JSON.stringify(toB)}`)
  } finally {
    for (const p of procs) p.child.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 500))
    for (const p of procs) p.child.kill('SIGKILL')
    lab.destroy()
  }
})
