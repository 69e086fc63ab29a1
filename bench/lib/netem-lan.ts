/**
 * A netem-equivalent lab for kernels without the netem/tbf qdiscs: hosts in
 * network namespaces that can reach each other only through a userspace
 * delaying relay, with real kernel packet loss.
 *
 *   host i (netns `<name>-i`, eth0 198.18.(240+i).2/24, default route via .1)
 *      │ veth
 *   router (netns `<name>-r`, 198.18.(240+i).1 on each veth, no IP forwarding)
 *
 * - Delay: in the router, `iptables -t nat … -d <host j> --dport <port> -j
 *   REDIRECT --to-ports <relayBase + j>` hands every TCP connection towards
 *   host j to the relay (./netem-relay.ts), which opens its own connection to
 *   host j and forwards the bytes each way after a random one-way delay.
 *   Forwarding is off in the router, so no packet can take a shorter path.
 * - Loss: each host drops a random share of the packets it receives
 *   (`iptables -A INPUT -m statistic --mode random --probability p -j DROP`),
 *   so every relay→host segment and every ACK towards a host is lost with
 *   probability p: real losses that TCP must detect and retransmit.
 */
import { execFileSync, spawnSync } from 'node:child_process'

/** Why the lab cannot be built here, or undefined when it can. */
export function netemLanUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces and iptables need root (CAP_NET_ADMIN)'
  if (spawnSync('ip', ['-V']).status !== 0) return 'the `ip` tool (iproute2) is not installed'
  if (spawnSync('iptables', ['--version']).status !== 0) return 'iptables is not installed'
  const probe = `tnetem-probe-${process.pid}`
  const add = spawnSync('ip', ['netns', 'add', probe])
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.toString().trim()}`
  try {
    for (const rule of [
      ['-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '1', '-j', 'REDIRECT', '--to-ports', '2'],
      ['-A', 'INPUT', '-m', 'statistic', '--mode', 'random', '--probability', '0.01', '-j', 'DROP'],
    ]) {
      const r = spawnSync('ip', ['netns', 'exec', probe, 'iptables', ...rule])
      if (r.status !== 0)
        return `iptables ${rule.slice(0, 4).join(' ')} fails in a namespace: ${r.stderr.toString().trim()}`
    }
  } finally {
    spawnSync('ip', ['netns', 'del', probe])
  }
  return undefined
}

export interface NetemHost {
  ns: string
  address: string
  /** The TCP port the host's node listens on (connections to it go through the relay). */
  port: number
}

export interface NetemRoute {
  /** Relay port in the router namespace. */
  listenPort: number
  host: string
  port: number
}

export interface NetemLan {
  router: string
  hosts: NetemHost[]
  /** What the relay in the router must serve: one route per host. */
  routes: NetemRoute[]
  /** Packets each host dropped on purpose and received in all, read from the kernel's counters. */
  lossCounters(): { dropped: number; received: number }
  destroy(): void
}

export interface NetemLanOptions {
  count: number
  /** Probability a host drops a packet it receives. */
  lossProbability: number
  /** Port the nodes listen on. Default 4001. */
  port?: number
  /** First relay port; host j's relay is relayBasePort + j. Default 5000. */
  relayBasePort?: number
}

function run(...args: string[]): string {
  return execFileSync(args[0], args.slice(1), { stdio: 'pipe' }).toString()
}

export function createNetemLan(name: string, options: NetemLanOptions): NetemLan {
  const port = options.port ?? 4001
  const relayBase = options.relayBasePort ?? 5000
  const router = `${name}-r`
  const nsOf = (i: number) => `${name}-${i}`
  const destroy = () => {
    for (let i = 0; i < options.count; i++) spawnSync('ip', ['netns', 'del', nsOf(i)])
    spawnSync('ip', ['netns', 'del', router])
  }
  destroy()
  const hosts: NetemHost[] = []
  const routes: NetemRoute[] = []
  try {
    run('ip', 'netns', 'add', router)
    run('ip', '-n', router, 'link', 'set', 'lo', 'up')
    for (let i = 0; i < options.count; i++) {
      const ns = nsOf(i)
      const net = `198.18.${240 + i}`
      const address = `${net}.2`
      run('ip', 'netns', 'add', ns)
      run('ip', '-n', router, 'link', 'add', `rv${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      run('ip', '-n', router, 'addr', 'add', `${net}.1/24`, 'dev', `rv${i}`)
      run('ip', '-n', router, 'link', 'set', `rv${i}`, 'up')
      run('ip', '-n', ns, 'link', 'set', 'lo', 'up')
      run('ip', '-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0')
      run('ip', '-n', ns, 'link', 'set', 'eth0', 'up')
      run('ip', '-n', ns, 'route', 'add', 'default', 'via', `${net}.1`)
      // Every connection towards this host is handed to its relay port in the router.
      run(
        ...['ip', 'netns', 'exec', router, 'iptables', '-t', 'nat', '-A', 'PREROUTING'],
        ...['-p', 'tcp', '-d', address, '--dport', String(port)],
        ...['-j', 'REDIRECT', '--to-ports', String(relayBase + i)],
      )
      if (options.lossProbability > 0) {
        run(
          ...['ip', 'netns', 'exec', ns, 'iptables', '-A', 'INPUT', '-i', 'eth0'],
          ...['-m', 'statistic', '--mode', 'random', '--probability', String(options.lossProbability)],
          ...['-j', 'DROP'],
        )
      }
      hosts.push({ ns, address, port })
      routes.push({ listenPort: relayBase + i, host: address, port })
    }
  } catch (err) {
    destroy()
    throw err
  }
  return {
    router,
    hosts,
    routes,
    lossCounters() {
      let dropped = 0
      let received = 0
      for (const h of hosts) {
        const rules = run('ip', 'netns', 'exec', h.ns, 'iptables', '-L', 'INPUT', '-v', '-x', '-n')
        const drop = rules.split('\n').find((l) => l.includes('DROP') && l.includes('statistic'))
        dropped += Number(drop?.trim().split(/\s+/)[0] ?? 0)
        const stats = JSON.parse(run('ip', '-n', h.ns, '-s', '-j', 'link', 'show', 'eth0')) as Array<{
          stats64?: { rx?: { packets?: number } }
        }>
        received += stats[0]?.stats64?.rx?.packets ?? 0
      }
      return { dropped, received }
    },
    destroy,
  }
}
