/**
 * Network namespaces for multi-host tests: hosts on a bridge, all inside this
 * machine. Addresses come from 198.18.0.0/15, the range RFC 2544 reserves for
 * network benchmarks, so test traffic can never reach a real network.
 */
import { execFileSync, spawnSync } from 'node:child_process'

/** Why namespaces cannot be used here, or undefined when they can. */
export function netnsUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root (CAP_NET_ADMIN)'
  if (spawnSync('ip', ['-V']).status !== 0) return 'the `ip` tool (iproute2) is not installed'
  const probe = `tutti-probe-${process.pid}`
  const add = spawnSync('ip', ['netns', 'add', probe])
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.toString().trim()}`
  spawnSync('ip', ['netns', 'del', probe])
  return undefined
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' })
}

export interface TestLan {
  hosts: Array<{ ns: string; address: string }>
  destroy(): void
}

/** `count` hosts on one bridge; each namespace gets a veth, an address and a multicast route. */
export function createTestLan(name: string, count: number): TestLan {
  const bridge = `br-${name}`.slice(0, 15)
  const hosts: TestLan['hosts'] = []
  const destroy = () => {
    for (let i = 0; i < count; i++) spawnSync('ip', ['netns', 'del', `${name}-${i}`])
    spawnSync('ip', ['link', 'del', bridge])
  }
  destroy()
  try {
    ip('link', 'add', bridge, 'type', 'bridge')
    ip('link', 'set', bridge, 'up')
    for (let i = 0; i < count; i++) {
      const ns = `${name}-${i}`
      const outside = `${name.slice(0, 8)}v${i}`
      const address = `198.18.${hostByte(name)}.${i + 10}`
      ip('netns', 'add', ns)
      ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      ip('link', 'set', outside, 'master', bridge)
      ip('link', 'set', outside, 'up')
      ip('-n', ns, 'link', 'set', 'lo', 'up')
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0')
      ip('-n', ns, 'link', 'set', 'eth0', 'up')
      ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
      hosts.push({ ns, address })
    }
  } catch (err) {
    destroy()
    throw err
  }
  return { hosts, destroy }
}

function hostByte(name: string): number {
  let h = 0
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) % 200
  return h + 20
}
