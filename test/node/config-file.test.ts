// The config file: the lowest settings layer, keyed by flag names; flags and environment win; bad files are usage errors.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { test } from 'node:test'
import { NODE_FLAGS, parseNodeConfig, UsageError } from '../../src/node/config.ts'
import { configFileEnv, configFilePath, environmentWithConfigFile } from '../../src/node/config-file.ts'

const HOME = { HOME: '/home/ada' }

test('the file lives in the XDG config directory unless TUTTI_CONFIG names another', () => {
  assert.equal(configFilePath(HOME), '/home/ada/.config/tutti/config.json')
  assert.equal(configFilePath({ ...HOME, XDG_CONFIG_HOME: '/conf' }), '/conf/tutti/config.json')
  assert.equal(configFilePath({ ...HOME, TUTTI_CONFIG: '/etc/tutti.json' }), '/etc/tutti.json')
})

test("settings become the flags' environment twins, under the real environment and the flags", () => {
  const fileEnv = configFileEnv(
    {
      library: ['~/Music', '/srv/music'],
      'api-port': 7710,
      bootstrap: ['/ip4/192.0.2.1/tcp/4001', '/ip4/192.0.2.2/tcp/4001'],
      'no-mdns': true,
      'expose-lan': false,
      name: 'Ada',
    },
    HOME,
    'test',
  )
  const c = parseNodeConfig([], { ...fileEnv, ...HOME })
  assert.deepEqual(c.libraries, ['/home/ada/Music', '/srv/music'])
  assert.equal(c.apiPort, 7710)
  assert.deepEqual(c.bootstrap, ['/ip4/192.0.2.1/tcp/4001', '/ip4/192.0.2.2/tcp/4001'])
  assert.equal(c.mdns, false)
  assert.equal(c.exposeLan, false)
  assert.equal(c.displayName, 'Ada')
  // The environment wins over the file, a flag over both.
  const env = { ...HOME, TUTTI_API_PORT: '7720' }
  assert.equal(
    parseNodeConfig([], { ...configFileEnv({ 'api-port': 7710 }, env, 't'), ...env }).apiPort,
    7720,
  )
  assert.equal(
    parseNodeConfig(['--api-port', '7730'], { ...configFileEnv({ 'api-port': 7710 }, env, 't'), ...env })
      .apiPort,
    7730,
  )
  assert.equal(configFileEnv({ library: '/one' }, HOME, 't').TUTTI_LIBRARY, '/one')
  assert.equal(
    configFileEnv({ library: ['/a', '/b'] }, HOME, 't').TUTTI_LIBRARY,
    ['/a', '/b'].join(delimiter),
  )
})

test('an unknown key, a wrong type or a non-object is a usage error naming the file and key', () => {
  assert.throws(
    () => configFileEnv({ libary: ['/x'] }, HOME, 'conf.json'),
    (err: Error) => {
      return err instanceof UsageError && /conf\.json/.test(err.message) && /libary/.test(err.message)
    },
  )
  assert.throws(() => configFileEnv({ 'no-mdns': 'yes' }, HOME, 'c'), /true or false/)
  assert.throws(() => configFileEnv({ library: [1] }, HOME, 'c'), /list of strings/)
  assert.throws(() => configFileEnv({ 'api-port': {} }, HOME, 'c'), /string or a number/)
  assert.throws(() => configFileEnv([1, 2], HOME, 'c'), UsageError)
  assert.throws(() => configFileEnv(null, HOME, 'c'), UsageError)
})

test('reading the file: missing is fine, broken JSON is an error, TUTTI_CONFIG must exist', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tutti-conf-'))
  const env = { HOME: dir, XDG_CONFIG_HOME: dir }
  assert.deepEqual(environmentWithConfigFile(env), env, 'no file: the environment as it is')
  const file = join(dir, 'mine.json')
  writeFileSync(file, '{"api-port": 7711, "name": "Grace"}')
  const read = environmentWithConfigFile({ ...env, TUTTI_CONFIG: file })
  assert.equal(read.TUTTI_API_PORT, '7711')
  assert.equal(read.TUTTI_NAME, 'Grace')
  writeFileSync(file, '{"api-port": 77')
  assert.throws(() => environmentWithConfigFile({ ...env, TUTTI_CONFIG: file }), /not JSON/)
  assert.throws(
    () => environmentWithConfigFile({ ...env, TUTTI_CONFIG: join(dir, 'absent.json') }),
    UsageError,
  )
})

test('the README CLI reference names every flag and its environment twin', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  for (const f of NODE_FLAGS) {
    assert.ok(readme.includes(`\`--${f.flag}`), `README lacks --${f.flag}`)
    assert.ok(readme.includes(f.env), `README lacks ${f.env}`)
  }
})
