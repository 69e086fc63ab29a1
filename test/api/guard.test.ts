// The access policy as pure rules: which Host, Origin, path and token combinations pass and which are refused, with what code.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type AccessPolicy,
  allowedHostsFor,
  checkPath,
  checkRequest,
  needsToken,
} from '../../src/api/guard.ts'

const policy: AccessPolicy = { allowedHosts: allowedHostsFor(7707), token: 'secret-token' }
const request = (overrides: Partial<Parameters<typeof checkRequest>[0]>) =>
  checkRequest(
    {
      method: 'GET',
      url: '/api/status',
      host: '127.0.0.1:7707',
      authorization: 'Bearer secret-token',
      upgrade: false,
      ...overrides,
    },
    policy,
  )?.code

describe('access policy', () => {
  it('answers to loopback names on its own port only', () => {
    assert.deepEqual([...allowedHostsFor(7707)].sort(), ['127.0.0.1:7707', '[::1]:7707', 'localhost:7707'])
    assert.equal(request({}), undefined)
    assert.equal(request({ host: 'localhost:7707' }), undefined)
    assert.equal(request({ host: 'localhost:7708' }), 'HOST_NOT_ALLOWED')
    assert.equal(request({ host: 'tutti.evil.example:7707' }), 'HOST_NOT_ALLOWED')
    assert.equal(request({ host: undefined }), 'HOST_NOT_ALLOWED')
  })

  it('checks Origin on mutations and upgrades, not on reads', () => {
    assert.equal(request({ origin: 'http://evil.example' }), undefined, 'a GET is a read')
    assert.equal(request({ method: 'POST', origin: 'http://evil.example' }), 'ORIGIN_NOT_ALLOWED')
    assert.equal(request({ method: 'DELETE', origin: 'http://localhost:7707' }), undefined)
    assert.equal(request({ method: 'PUT', origin: 'null' }), 'ORIGIN_NOT_ALLOWED')
    assert.equal(request({ method: 'PATCH', origin: 'https://127.0.0.1:7707' }), 'ORIGIN_NOT_ALLOWED')
    assert.equal(request({ method: 'POST' }), undefined, 'no Origin: not a browser; the token still decides')
    assert.equal(request({ upgrade: true, origin: 'http://evil.example' }), 'ORIGIN_NOT_ALLOWED')
  })

  it('needs the token under /api/ only, from the header or the query', () => {
    assert.equal(needsToken('/'), false)
    assert.equal(needsToken('/assets/index.js'), false)
    assert.equal(needsToken('/apiary'), false)
    assert.equal(needsToken('/api'), true)
    assert.equal(needsToken('/api/status?x=1'), true)
    assert.equal(request({ authorization: undefined }), 'UNAUTHORIZED')
    assert.equal(request({ authorization: 'Bearer wrong-token!' }), 'UNAUTHORIZED')
    assert.equal(request({ authorization: 'Basic secret-token' }), 'UNAUTHORIZED')
    assert.equal(request({ authorization: undefined, url: '/api/status?token=secret-token' }), undefined)
    assert.equal(request({ authorization: undefined, url: '/' }), undefined)
  })

  it('refuses dot segments and smuggled separators in any encoding', () => {
    for (const bad of [
      '/a/../b',
      '/a/./b',
      '/%2e%2e/x',
      '/%2E%2E/x',
      '/%252e%252e/x',
      '/a/..%2fb',
      '/a/..%5cb',
      '/a\\b',
      '/%00',
      '/%zz',
    ])
      assert.equal(checkPath(bad)?.code, 'BAD_PATH', bad)
    for (const ok of ['/', '/api/songs/bafy/stream', '/assets/index-abc.js', '/a/b?c=../..', '/a..b/c'])
      assert.equal(checkPath(ok), undefined, ok)
  })
})
