/**
 * A small internet inside network namespaces: a bridge in its own namespace
 * plays the public network (198.18.77.0/24, the RFC 2544 benchmark range);
 * public hosts sit on it; each private host sits behind its own router
 * namespace that masquerades (iptables MASQUERADE) and drops unsolicited
 * inbound connections, as a home router does. Nothing touches the root
 * namespace's network, so test traffic cannot leave the machine.
 * Options: public-looking addresses (libp2p treats 198.18/15 as private) and
 * port forwards on the routers; see NatLabOptions.
 */
import { execFileSync, spawnSync } from 'node:child_process'

/** Why the NAT lab cannot run here, or undefined when it can. */
export function natLabUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root (CAP_NET_ADMIN)'
  if (spawnSync('ip', ['-V']).status !== 0) return 'the `ip` tool (iproute2) is not installed'
  if (spawnSync('iptables', ['--version']).status !== 0)
    return 'iptables is not installed (apt-get install iptables)'
  const probe = `tnat-probe-${process.pid}`
  const add = spawnSync('ip', ['netns', 'add', probe])
  if (add.status !== 0)
    return `cannot create a network namespace (CAP_NET_ADMIN?): ${add.stderr.toString().trim()}`
  const nat = spawnSync('ip', [
    'netns',
    'exec',
    probe,
    'iptables',
    '-t',
    'nat',
    '-A',
    'POSTROUTING',
    '-o',
    'lo',
    '-j',
    'MASQUERADE',
  ])
  spawnSync('ip', ['netns', 'del', probe])
  if (nat.status !== 0) return `iptables NAT is unavailable in a namespace: ${nat.stderr.toString().trim()}`
  return undefined
}

function run(cmd: string, ...args: string[]): void {
  execFileSync(cmd, args, { stdio: 'pipe' })
}

export interface NatLab {
  /** Namespace and address of each public host. */
  publicHosts: Array<{ ns: string; address: string }>
  /** Namespace, private address and the router's public address of each NATed host. */
  privateHosts: Array<{ ns: string; address: string; routerAddress: string }>
  destroy(): void
}

export interface NatLabOptions {
  /**
   * `benchmark` (default): the public network is 198.18.77.0/24 (RFC 2544), which libp2p treats as
   * private, so AutoNAT never confirms an address there and DCUtR never dials one.
   * `public`: every public host and router gets an address in a /8 of its own, from 11.0.0.0 up
   * (one network segment each, as AutoNAT v1 demands four confirmations from four /8s), all on one
   * bridge with on-link routes. libp2p treats these as public. They are real internet addresses,
   * but they exist only inside these namespaces: no namespace has a link to the root namespace or
   * to any physical interface, so no packet can leave the lab.
   */
  addressing?: 'benchmark' | 'public'
  /** TCP ports each private host's router forwards to it (a static port forward, as UPnP sets up). */
  forwards?: Array<{ privateIndex: number; port: number }>
}

export function createNatLab(
  prefix: string,
  publicCount: number,
  privateCount: number,
  options: NatLabOptions = {},
): NatLab {
  const segments = options.addressing === 'public'
  const net = `${prefix}-net`
  const names = [
    net,
    ...Array.from({ length: publicCount }, (_, i) => `${prefix}-pub${i}`),
    ...Array.from({ length: privateCount }, (_, i) => [`${prefix}-rt${i}`, `${prefix}-priv${i}`]).flat(),
  ]
  const destroy = () => {
    for (const ns of names) spawnSync('ip', ['netns', 'del', ns])
  }
  destroy() // leftovers of an earlier, killed run
  const lab: NatLab = { publicHosts: [], privateHosts: [], destroy }
  try {
    run('ip', 'netns', 'add', net)
    run('ip', '-n', net, 'link', 'add', 'br0', 'type', 'bridge')
    run('ip', '-n', net, 'link', 'set', 'br0', 'up')
    let hostByte = 10
    const attachPublic = (ns: string): string => {
      const n = hostByte - 10
      const address = segments ? `${11 + n}.77.0.10` : `198.18.77.${hostByte}`
      const port = `p${hostByte++}`
      run('ip', '-n', net, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      run('ip', '-n', net, 'link', 'set', port, 'master', 'br0')
      run('ip', '-n', net, 'link', 'set', port, 'up')
      run('ip', '-n', ns, 'link', 'set', 'lo', 'up')
      run('ip', '-n', ns, 'addr', 'add', `${address}/${segments ? 8 : 24}`, 'dev', 'eth0')
      run('ip', '-n', ns, 'link', 'set', 'eth0', 'up')
      // Every other /8 of the lab is on the same bridge: reach it on-link (ARP), not through a gateway.
      if (segments) run('ip', '-n', ns, 'route', 'add', 'default', 'dev', 'eth0')
      return address
    }
    for (let i = 0; i < publicCount; i++) {
      const ns = `${prefix}-pub${i}`
      run('ip', 'netns', 'add', ns)
      lab.publicHosts.push({ ns, address: attachPublic(ns) })
    }
    for (let i = 0; i < privateCount; i++) {
      const router = `${prefix}-rt${i}`
      const host = `${prefix}-priv${i}`
      run('ip', 'netns', 'add', router)
      run('ip', 'netns', 'add', host)
      const routerAddress = attachPublic(router)
      // Home LANs also come from RFC 2544's 198.18.0.0/15: test traffic never targets a real private network.
      const lanRouter = `198.19.${i + 1}.1`
      const address = `198.19.${i + 1}.2`
      run('ip', '-n', router, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host)
      run('ip', '-n', router, 'addr', 'add', `${lanRouter}/24`, 'dev', 'lan0')
      run('ip', '-n', router, 'link', 'set', 'lan0', 'up')
      run('ip', '-n', host, 'link', 'set', 'lo', 'up')
      run('ip', '-n', host, 'addr', 'add', `${address}/24`, 'dev', 'eth0')
      run('ip', '-n', host, 'link', 'set', 'eth0', 'up')
      run('ip', '-n', host, 'route', 'add', 'default', 'via', lanRouter)
      const inRouter = (...args: string[]) => run('ip', 'netns', 'exec', router, ...args)
      inRouter('sysctl', '-qw', 'net.ipv4.ip_forward=1')
      inRouter('iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'eth0', '-j', 'MASQUERADE')
      inRouter(
        'iptables',
        '-A',
        'FORWARD',
        '-i',
        'eth0',
        '-o',
        'lan0',
        '-m',
        'conntrack',
        '--ctstate',
        'ESTABLISHED,RELATED',
        '-j',
        'ACCEPT',
      )
      for (const { port } of (options.forwards ?? []).filter((f) => f.privateIndex === i)) {
        inRouter(
          'iptables',
          '-t',
          'nat',
          '-A',
          'PREROUTING',
          '-i',
          'eth0',
          '-p',
          'tcp',
          '--dport',
          String(port),
          '-j',
          'DNAT',
          '--to-destination',
          `${address}:${port}`,
        )
        inRouter(
          'iptables',
          '-A',
          'FORWARD',
          '-i',
          'eth0',
          '-o',
          'lan0',
          '-p',
          'tcp',
          '-d',
          address,
          '--dport',
          String(port),
          '-j',
          'ACCEPT',
        )
      }
      inRouter('iptables', '-A', 'FORWARD', '-i', 'eth0', '-o', 'lan0', '-j', 'DROP')
      lab.privateHosts.push({ ns: host, address, routerAddress })
    }
  } catch (err) {
    destroy()
    throw err
  }
  return lab
}
