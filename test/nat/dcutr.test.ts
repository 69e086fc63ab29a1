// DCUtR in the NAT lab with addresses libp2p treats as public: a connection B (whose router forwards a port) opens through a relay to A (behind a plain masquerading router) is upgraded to a direct one (A dials B's public address) and the relayed one closed; search then runs over it.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { waitFor } from '../helpers/wait.ts'
import { createNatLab, natLabUnavailableReason } from './nat-lab.ts'

/**
 * What this shows, and what js-libp2p 3 cannot do (details in src/net/README.md):
 * - DCUtR's first step, the "unilateral upgrade": the peer on the inbound side
 *   of a relayed connection dials the other's verified public addresses
 *   directly and closes the relayed connection. That is what happens here,
 *   through real NAT routers, one of which forwards a port to its host.
 * - B's forwarded address is confirmed by AutoNAT v2 (four public peers in
 *   four /8s dial it back), as in the product. AutoNAT v1 (@libp2p/autonat
 *   3.0.28) could not confirm any address: its server answers a dial-back
 *   request over the asker's own connection (openConnection without `force`)
 *   and closes it, so the node now runs @libp2p/autonat-v2 (src/net/README.md).
 * - The second half of DCUtR, simultaneous dials through two routers that only
 *   masquerade, cannot succeed over TCP in js-libp2p: identify discards every
 *   observed TCP address (js-libp2p#2620) because Node dials from an ephemeral
 *   port, not the listening one, so a NATed node never learns an external
 *   address a peer could reach it at; the Connect exchange carries no dialable
 *   address and libp2p gives up. QUIC or WebRTC (UDP) could punch, but need
 *   native addons. test/nat/relay.test.ts covers that case: it stays relayed.
 */

const reason = natLabUnavailableReason()
const PORT = 4011
const FORWARDED_PORT = 4100

type Line = Record<string, unknown>

interface Proc {
  child: ChildProcess
  lines: Line[]
  send(command: unknown): void
  last<T>(key: string): T | undefined
}

function startPeer(ns: string, args: string[]): Proc {
  const lines: Line[] = []
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, 'test/nat/fixtures/peer.ts', ...args], {
    stdio: ['pipe', 'pipe', process.env.NAT_LOG_DIR === undefined ? 'inherit' : 'pipe'],
  })
  // NAT_LOG_DIR=/some/dir (with DEBUG=libp2p:*) keeps each node's libp2p log there.
  if (process.env.NAT_LOG_DIR !== undefined)
    child.stderr?.pipe(createWriteStream(join(process.env.NAT_LOG_DIR, `${ns}.log`)))
  child.on('exit', (code) => lines.push({ exited: code }))
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
  verifiedAddrs: string[]
}

interface Conn {
  peer: string
  remoteAddr: string
  limited: boolean
}

test('a relayed connection is upgraded to a direct one where a router allows (DCUtR)', {
  skip: reason,
  timeout: 180_000,
}, async (t) => {
  // Four public hosts (the relay and three more AutoNAT servers, each in its own /8) and two
  // homes: A's router only masquerades; B's router also forwards one TCP port to B.
  const lab = createNatLab(`tdcu${process.pid}`, 4, 2, {
    addressing: 'public',
    forwards: [{ privateIndex: 1, port: FORWARDED_PORT }],
  })
  const procs: Proc[] = []
  try {
    const relay = startPeer(lab.publicHosts[0].ns, ['--relay', 'true', '--port', String(PORT)])
    procs.push(relay)
    await waitFor(() => relay.last('peerId') !== undefined, 'the relay to start', { timeoutMs: 60_000 })
    const [hostA, hostB] = lab.privateHosts
    const forwarded = `/ip4/${hostB.routerAddress}/tcp/${FORWARDED_PORT}`
    const relayAddr = `/ip4/${lab.publicHosts[0].address}/tcp/${PORT}/p2p/${relay.last<string>('peerId')}`
    // Three more public peers, each in a /8 of its own: AutoNAT v2 wants four confirmations from
    // four network segments before it counts an address as verified.
    for (const host of lab.publicHosts.slice(1))
      procs.push(startPeer(host.ns, ['--bootstrap', relayAddr, '--port', String(PORT)]))
    const a = startPeer(hostA.ns, [
      '--bootstrap',
      relayAddr,
      '--song',
      'Jolene|Dolly Parton',
      // A meets B only when B calls through the relay (no DHT shortcut before that).
      '--dial-first',
      'none',
    ])
    // B knows its router forwards the port (as UPnP would tell it); AutoNAT v2 has to confirm it.
    const b = startPeer(hostB.ns, [
      '--bootstrap',
      relayAddr,
      '--port',
      String(FORWARDED_PORT),
      '--map',
      `${hostB.address}:${FORWARDED_PORT}:${hostB.routerAddress}:${FORWARDED_PORT}`,
    ])
    procs.push(a, b)
    await waitFor(
      () => a.last('peerId') !== undefined && b.last('peerId') !== undefined,
      'A and B to start',
      { timeoutMs: 60_000 },
    )
    const idA = a.last<string>('peerId') as string
    const idB = b.last<string>('peerId') as string
    await waitFor(
      () => (b.last<Reach>('reachability')?.verifiedAddrs ?? []).some((x) => x.startsWith(forwarded)),
      `B to list ${forwarded} as its public address`,
      { timeoutMs: 60_000 },
    )
    assert.equal(b.last<Reach>('reachability')?.status, 'public')
    // A has nothing to confirm: it is reachable only through its relay reservation.
    await waitFor(
      () => (a.last<Reach>('reachability')?.relayAddrs.length ?? 0) > 0,
      `A's relay reservation (A: ${JSON.stringify(a.last('reachability'))})`,
      { timeoutMs: 90_000 },
    )
    const reachA = a.last<Reach>('reachability') as Reach
    assert.equal(reachA.status, 'private')
    assert.deepEqual(reachA.verifiedAddrs, [])

    // B reaches A the only way it can: through the relay.
    b.send({ cmd: 'dial', id: 'relayed', addr: reachA.relayAddrs[0] })
    await waitFor(() => b.lines.some((l) => l.id === 'relayed'), 'B’s relayed dial to A', {
      timeoutMs: 30_000,
    })
    const dialed = b.lines.find((l) => l.id === 'relayed')
    assert.equal(dialed?.error, undefined, `B could not dial A through the relay: ${dialed?.error}`)
    // A saw B arrive through the relay first: a limited, /p2p-circuit connection.
    await waitFor(() => a.lines.some((l) => (l.connection as Conn | undefined)?.peer === idB), 'A to see B')
    const seenByA = a.lines
      .map((l) => l.connection as Conn | undefined)
      .filter((c): c is Conn => c?.peer === idB)
    assert.ok(
      seenByA[0]?.limited === true && seenByA[0].remoteAddr.includes('/p2p-circuit'),
      `B's first connection to A is relayed: ${JSON.stringify(seenByA)}`,
    )

    // DCUtR: A, on the inbound side, dials B's confirmed address; the relayed connection closes.
    const connectionsOf = async (p: Proc): Promise<Conn[]> => {
      const before = p.lines.length
      p.send({ cmd: 'connections' })
      await waitFor(() => p.lines.slice(before).some((l) => 'connections' in l), 'the connection list')
      return p.last<Conn[]>('connections') ?? []
    }
    let toB: Conn[] = []
    await waitFor(
      async () => {
        toB = (await connectionsOf(a)).filter((c) => c.peer === idB)
        return toB.length > 0 && toB.every((c) => !c.limited && !c.remoteAddr.includes('/p2p-circuit'))
      },
      `a direct connection from A to B and no relayed one (A→B: ${JSON.stringify(toB)})`,
      { timeoutMs: 60_000, intervalMs: 500 },
    )
    t.diagnostic(`A→B after DCUtR: ${JSON.stringify(toB)}`)
    assert.ok(
      toB.some((c) => c.remoteAddr.startsWith(forwarded)),
      `A dialled B's forwarded address: ${JSON.stringify(toB)}`,
    )
    // B sees A arrive from A's router's own address: a real connection through both routers.
    const toA = (await connectionsOf(b)).filter((c) => c.peer === idA)
    assert.ok(
      toA.some((c) => !c.limited && c.remoteAddr.startsWith(`/ip4/${hostA.routerAddress}/tcp/`)),
      `B has a direct connection from A's router: ${JSON.stringify(toA)}`,
    )

    // And the upgraded connection carries Tutti: B finds A's song.
    b.send({ cmd: 'search', text: 'jolene' })
    await waitFor(() => b.last('searchDone') !== undefined, 'the search to finish', { timeoutMs: 30_000 })
    const hits = b.lines.filter((l) => 'hit' in l).map((l) => l.hit as { title: string; provider: string })
    assert.deepEqual(
      hits.map((h) => [h.title, h.provider]),
      [['Jolene', idA]],
    )
  } catch (err) {
    // What each node last said, to tell a lab problem from a libp2p one.
    for (const [i, p] of procs.entries())
      t.diagnostic(
        `node ${i}: ${p.lines
          .slice(-3)
          .map((l) => JSON.stringify(l))
          .join(' ')}`.slice(0, 1500),
      )
    throw err
  } finally {
    for (const p of procs) p.child.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 500))
    for (const p of procs) p.child.kill('SIGKILL')
    lab.destroy()
  }
})
