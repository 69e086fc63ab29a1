// Node configuration: every flag has an environment twin, flags win over the environment, XDG defaults, clear usage errors.
import assert from 'node:assert/strict'
import { delimiter } from 'node:path'
import { test } from 'node:test'
import { DEFAULT_API_PORT, parseNodeConfig, UsageError } from '../../src/node/config.ts'

const HOME = { HOME: '/home/ada' }

test('defaults: XDG data and config directories, port 7707, mDNS on, demo library', () => {
  const c = parseNodeConfig([], HOME)
  assert.equal(c.dataDir, '/home/ada/.local/share/tutti')
  assert.equal(c.configDir, '/home/ada/.config/tutti')
  assert.equal(c.apiPort, DEFAULT_API_PORT)
  assert.equal(c.mdns, true)
  assert.equal(c.exposeLan, false)
  assert.deepEqual(c.libraries, [])
  assert.equal(c.output, 'none')
  assert.equal(c.relayClient, true, 'a node behind NAT takes relay reservations by default')
  assert.deepEqual(c.announce, [])
  assert.deepEqual(c.shares, [], 'no rules: everything shared with everyone')
  const xdg = parseNodeConfig([], { ...HOME, XDG_DATA_HOME: '/data', XDG_CONFIG_HOME: '/conf' })
  assert.equal(xdg.dataDir, '/data/tutti')
  assert.equal(xdg.configDir, '/conf/tutti')
})

test('every flag has an environment twin', () => {
  const c = parseNodeConfig([], {
    ...HOME,
    TUTTI_LIBRARY: ['/music/a', '/music/b'].join(delimiter),
    TUTTI_DATA: '/srv/tutti',
    TUTTI_API_PORT: '9000',
    TUTTI_LISTEN: '/ip4/0.0.0.0/tcp/4001,/ip4/0.0.0.0/tcp/4002/ws',
    TUTTI_BOOTSTRAP: '/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWabc',
    TUTTI_NO_MDNS: '1',
    TUTTI_EXPOSE_LAN: 'true',
    TUTTI_RELAY: '1',
    TUTTI_OUTPUT: 'wav:/tmp/out.wav',
    TUTTI_NAME: 'Ada',
    TUTTI_ANNOUNCE: '/ip4/203.0.113.7/tcp/4001',
    TUTTI_NO_RELAY_CLIENT: '1',
    TUTTI_SHARE: ['/music/a/private=nobody', '/music/b=party'].join(delimiter),
  })
  assert.deepEqual(c.libraries, ['/music/a', '/music/b'])
  assert.equal(c.dataDir, '/srv/tutti')
  assert.equal(c.apiPort, 9000)
  assert.deepEqual(c.listen, ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'])
  assert.deepEqual(c.bootstrap, ['/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWabc'])
  assert.equal(c.mdns, false)
  assert.equal(c.exposeLan, true)
  assert.equal(c.relayServer, true)
  assert.equal(c.output, 'wav:/tmp/out.wav')
  assert.equal(c.displayName, 'Ada')
  assert.deepEqual(c.announce, ['/ip4/203.0.113.7/tcp/4001'])
  assert.equal(c.relayClient, false)
  assert.deepEqual(c.shares, [
    { path: '/music/a/private', scope: 'nobody' },
    { path: '/music/b', scope: 'party' },
  ])
})

test('flags win over the environment; repeatable flags collect', () => {
  const c = parseNodeConfig(
    [
      '--library',
      '/x',
      '--library',
      '/y',
      '--api-port',
      '0',
      '--data',
      '/d',
      '--bootstrap',
      '/ip4/192.0.2.9/tcp/1',
    ],
    {
      ...HOME,
      TUTTI_LIBRARY: '/ignored',
      TUTTI_API_PORT: '9000',
      TUTTI_DATA: '/ignored',
      TUTTI_NO_MDNS: '0',
    },
  )
  assert.deepEqual(c.libraries, ['/x', '/y'])
  assert.equal(c.apiPort, 0)
  assert.equal(c.dataDir, '/d')
  assert.equal(c.mdns, true, 'TUTTI_NO_MDNS=0 means mDNS stays on')
})

test('bad input is a UsageError that says what is wrong', () => {
  assert.throws(
    () => parseNodeConfig(['--announce', 'not-an-address'], HOME),
    (e: unknown) => e instanceof UsageError && /--announce: not a multiaddr/.test(e.message),
  )
  assert.throws(
    () => parseNodeConfig(['--api-port', '70000'], HOME),
    (e: unknown) => e instanceof UsageError && /port/.test(e.message),
  )
  assert.throws(() => parseNodeConfig(['--api-port', 'x'], HOME), UsageError)
  assert.throws(() => parseNodeConfig(['--bogus'], HOME), UsageError)
  assert.throws(
    () => parseNodeConfig(['--output', 'speakers'], HOME),
    (e: unknown) => e instanceof UsageError && /--output/.test(e.message),
  )
  assert.throws(() => parseNodeConfig([], { ...HOME, TUTTI_API_PORT: '-1' }), UsageError)
})

test('--share DIR=SCOPE: inside a library (or the data dir), paths resolved, the last rule for a folder wins', () => {
  const c = parseNodeConfig(
    [
      '--library',
      '/music',
      '--share',
      '/music/demos/=party',
      '--share',
      '/music/a=b=nobody',
      '--share',
      '/music/demos=nobody',
      '--share',
      '/data/music=party',
      '--data',
      '/data',
    ],
    { ...HOME, TUTTI_SHARE: '/music=nobody' },
  )
  assert.deepEqual(c.shares, [
    { path: '/music/demos', scope: 'nobody' },
    { path: '/music/a=b', scope: 'nobody' },
    { path: '/data/music', scope: 'party' },
  ])
  // Demo library (no --library): it lives in the data directory.
  assert.deepEqual(parseNodeConfig(['--data', '/d', '--share', '/d/demo-library=nobody'], HOME).shares, [
    { path: '/d/demo-library', scope: 'nobody' },
  ])
  const usage = (args: string[], pattern: RegExp) =>
    assert.throws(
      () => parseNodeConfig(['--library', '/music', ...args], HOME),
      (e: unknown) => e instanceof UsageError && pattern.test(e.message),
    )
  usage(['--share', '/music/x=friends'], /DIR=everyone\|party\|nobody/)
  usage(['--share', '/music/x'], /DIR=everyone\|party\|nobody/)
  usage(['--share', '=nobody'], /DIR=everyone\|party\|nobody/)
  usage(['--share', '/musik/private=nobody'], /not a --library folder/)
})

test('swarm limits: rates with units, counts, env twins, clear errors', () => {
  const c = parseNodeConfig(['--upload-rate', '2MiB', '--download-rate', '500KiB', '--max-peers', '8'], HOME)
  assert.equal(c.uploadRateBytes, 2 * 1024 * 1024)
  assert.equal(c.downloadRateBytes, 500 * 1024)
  assert.equal(c.maxPeers, 8)
  assert.equal(c.maxRequests, undefined, 'absent: the swarm default')
  const env = parseNodeConfig([], { ...HOME, TUTTI_UPLOAD_RATE: '4MB/s', TUTTI_MAX_REQUESTS: '64' })
  assert.equal(env.uploadRateBytes, 4_000_000)
  assert.equal(env.maxRequests, 64)
  assert.equal(parseNodeConfig(['--upload-rate', '800000'], HOME).uploadRateBytes, 800_000)
  assert.equal(parseNodeConfig(['--upload-rate', '0'], HOME).uploadRateBytes, undefined, '0 = uncapped')
  assert.equal(parseNodeConfig(['--upload-rate', '1.5m'], HOME).uploadRateBytes, 1_500_000)
  assert.throws(() => parseNodeConfig(['--upload-rate', 'fast'], HOME), /--upload-rate: not a rate: fast/)
  assert.throws(() => parseNodeConfig(['--download-rate', '2 parsecs'], HOME), UsageError)
  assert.throws(() => parseNodeConfig(['--upload-rate', '10'], HOME), /below 1 KiB\/s/)
  assert.throws(() => parseNodeConfig(['--max-peers', '0'], HOME), /--max-peers: expected a whole number/)
  assert.throws(() => parseNodeConfig(['--max-requests', '2.5'], HOME), UsageError)
})
