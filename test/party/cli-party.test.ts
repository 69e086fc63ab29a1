// `tutti party` on the command line: create --open / --approve (mutually exclusive, checked before any node is
// contacted), and the speaker command prints the API's warning when other devices cannot open the link.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import type { ApiClient } from '../../src/cli/api-client.ts'
import { partyCliCommand } from '../../src/cli/commands/party.ts'
import { UsageError } from '../../src/node/config.ts'
import { CLI } from '../helpers/node-process.ts'

/** A fake node: records what the CLI posts and answers with `answer(path)`. */
function fakeApi(answer: (path: string) => unknown) {
  const posted: Array<{ path: string; body: unknown }> = []
  let connects = 0
  const api: ApiClient = {
    baseUrl: 'http://127.0.0.1:1',
    token: 't',
    get: async <T>(path: string) => answer(path) as T,
    post: async <T>(path: string, body: unknown) => {
      posted.push({ path, body })
      return answer(path) as T
    },
  }
  return {
    posted,
    connects: () => connects,
    connect: async () => {
      connects++
      return api
    },
  }
}

const created = (joinPolicy: string) => ({
  invite: 'tutti://join/x',
  inviteQr: '[qr]',
  status: { name: 'Friday', joinPolicy },
})

describe('tutti party create --open / --approve', () => {
  let out: string[]
  const realLog = console.log
  const realError = console.error
  beforeEach(() => {
    out = []
    console.log = (...args: unknown[]) => void out.push(args.join(' '))
    console.error = (...args: unknown[]) => void out.push(`stderr: ${args.join(' ')}`)
  })
  afterEach(() => {
    console.log = realLog
    console.error = realError
  })

  for (const [flags, policy] of [
    [{}, 'open'],
    [{ open: true }, 'open'],
    [{ approve: true }, 'approve'],
  ] as const) {
    it(`${JSON.stringify(flags)} creates a party with join policy ${policy}`, async () => {
      const node = fakeApi(() => created(policy))
      await partyCliCommand(node.connect, ['create', 'Friday'], flags)
      assert.equal(node.posted.length, 1)
      assert.equal(node.posted[0].path, '/api/party')
      assert.equal((node.posted[0].body as { joinPolicy: string }).joinPolicy, policy)
    })
  }

  it('--open with --approve is a usage error naming both, before the node is contacted', async () => {
    const node = fakeApi(() => created('open'))
    await assert.rejects(
      partyCliCommand(node.connect, ['create', 'Friday'], { open: true, approve: true }),
      (err: Error) =>
        err instanceof UsageError && /--open and --approve cannot be used together/.test(err.message),
    )
    assert.equal(node.connects(), 0)
    await assert.rejects(
      partyCliCommand(node.connect, ['status'], { open: true }),
      (err: Error) => err instanceof UsageError && /only go with/.test(err.message),
    )
    assert.equal(node.connects(), 0)
  })

  it('the real command line accepts --open and refuses --open --approve with exit code 2', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tutti-cli-party-'))
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [CLI, 'party', 'create', 'Friday', '--data', dataDir, ...args], {
        encoding: 'utf8',
        timeout: 60_000,
      })
    const both = run('--open', '--approve')
    assert.equal(both.status, 2, both.stderr)
    assert.match(both.stderr, /--open and --approve cannot be used together/)
    // --open parses; with no node running on this data directory the command then says so (exit 3).
    const open = run('--open')
    assert.equal(open.status, 3, open.stderr)
    assert.match(open.stderr, /no Tutti node is running/)
  })

  it('the speaker command prints the link and, when the API says so, the warning to use --expose-lan', async () => {
    const warning = 'this speaker link works only on this computer … --expose-lan'
    const node = fakeApi(() => ({ url: 'http://127.0.0.1:7070/speaker#token=spk_x', warning }))
    await partyCliCommand(node.connect, ['speaker'], {})
    assert.ok(out.some((l) => l.includes('http://127.0.0.1:7070/speaker#token=spk_x')))
    assert.ok(out.includes(`stderr: warning: ${warning}`), out.join('\n'))

    out.length = 0
    const lan = fakeApi(() => ({ url: 'http://192.168.1.5:7070/speaker#token=spk_y' }))
    await partyCliCommand(lan.connect, ['speaker'], {})
    assert.ok(!out.some((l) => l.includes('warning')))
  })
})
