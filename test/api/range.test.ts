// Song streaming over HTTP Range: 200/206 with exact bytes, suffix and open ranges, 416, and stopping the read when the client leaves.
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { planRange } from '../../src/api/range.ts'
import { waitFor } from '../helpers/wait.ts'
import { auth, rawRequest, startTestApi, type TestApi } from './fixtures.ts'

describe('planRange', () => {
  it('plans single byte ranges and refuses what it cannot satisfy', () => {
    assert.deepEqual(planRange(undefined, 100), { kind: 'full' })
    assert.deepEqual(planRange('bytes=0-9', 100), { kind: 'partial', start: 0, end: 9 })
    assert.deepEqual(planRange('bytes=90-', 100), { kind: 'partial', start: 90, end: 99 })
    assert.deepEqual(planRange('bytes=-10', 100), { kind: 'partial', start: 90, end: 99 })
    assert.deepEqual(planRange('bytes=-500', 100), { kind: 'partial', start: 0, end: 99 })
    assert.deepEqual(planRange('bytes=50-5000', 100), { kind: 'partial', start: 50, end: 99 })
    assert.deepEqual(planRange('BYTES = 1-1', 100), { kind: 'partial', start: 1, end: 1 })
    for (const bad of [
      'bytes=100-',
      'bytes=9-2',
      'bytes=-0',
      'bytes=-',
      'bytes=abc',
      'bytes=1.5-2',
      'bytes=99999999999999999999-',
    ])
      assert.deepEqual(planRange(bad, 100), { kind: 'unsatisfiable' }, bad)
    assert.deepEqual(planRange('bytes=0-', 0), { kind: 'unsatisfiable' })
    assert.deepEqual(planRange('items=0-5', 100), { kind: 'full' }, 'unknown units are ignored')
    assert.deepEqual(planRange('bytes=0-1,5-6', 100), { kind: 'full' }, 'multi-range answered whole')
  })
})

describe('GET /api/songs/:cid/stream', () => {
  let api: TestApi
  before(async () => {
    api = await startTestApi()
  })
  after(() => api.close())

  const byTitle = (title: string) => {
    const song = api.songs.find((s) => s.title === title)
    assert.ok(song, title)
    return song
  }
  const stream = (cid: string, range?: string) =>
    rawRequest(api.port, `/api/songs/${cid}/stream`, {
      headers: { ...auth(api.token), ...(range ? { range } : {}) },
    })

  it('sends the whole song with its audio type and Accept-Ranges', async () => {
    const song = byTitle('Morning Light')
    const res = await stream(song.cid)
    assert.equal(res.status, 200)
    assert.match(String(res.headers['content-type']), /^audio\//)
    assert.equal(res.headers['content-type'], song.mime)
    assert.equal(res.headers['accept-ranges'], 'bytes')
    assert.equal(Number(res.headers['content-length']), song.size)
    assert.ok(res.body.equals(song.bytes))
  })

  it('sends exactly the requested bytes with 206 and Content-Range', async () => {
    const song = byTitle('Morning Light')
    const cases: Array<[string, number, number]> = [
      ['bytes=0-99', 0, 99],
      ['bytes=65530-65545', 65530, 65545], // across a piece boundary
      [`bytes=${song.size - 10}-`, song.size - 10, song.size - 1],
      ['bytes=-777', song.size - 777, song.size - 1],
      [`bytes=100-${song.size + 50}`, 100, song.size - 1],
    ]
    for (const [range, start, end] of cases) {
      const res = await stream(song.cid, range)
      assert.equal(res.status, 206, range)
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${song.size}`, range)
      assert.equal(Number(res.headers['content-length']), end - start + 1, range)
      assert.ok(res.body.equals(song.bytes.subarray(start, end + 1)), `${range}: exact bytes`)
    }
  })

  it('answers 416 with the size for ranges it cannot satisfy', async () => {
    const song = byTitle('Evening Tide')
    for (const range of [`bytes=${song.size}-`, 'bytes=10-5', 'bytes=-0', 'bytes=x-y']) {
      const res = await stream(song.cid, range)
      assert.equal(res.status, 416, range)
      assert.equal(res.headers['content-range'], `bytes */${song.size}`)
      assert.equal(res.json().error?.code, 'RANGE_NOT_SATISFIABLE')
    }
  })

  it('serves a whole song for bytes=0- (what <audio> asks first)', async () => {
    const song = byTitle('Night Drive')
    const res = await stream(song.cid, 'bytes=0-')
    assert.equal(res.status, 206)
    assert.equal(res.headers['content-range'], `bytes 0-${song.size - 1}/${song.size}`)
    assert.ok(res.body.equals(song.bytes))
  })

  it('honours If-Range only when it names this song', async () => {
    const song = byTitle('Morning Light')
    const same = await rawRequest(api.port, `/api/songs/${song.cid}/stream`, {
      headers: { ...auth(api.token), range: 'bytes=0-9', 'if-range': `"${song.cid}"` },
    })
    assert.equal(same.status, 206)
    const stale = await rawRequest(api.port, `/api/songs/${song.cid}/stream`, {
      headers: { ...auth(api.token), range: 'bytes=0-9', 'if-range': '"something-else"' },
    })
    assert.equal(stale.status, 200)
    assert.equal(stale.body.length, song.size)
  })

  it('returns song metadata by id', async () => {
    const song = byTitle('Evening Tide')
    const res = await rawRequest(api.port, `/api/songs/${song.cid}`, { headers: auth(api.token) })
    assert.equal(res.status, 200)
    assert.equal(res.json().title, 'Evening Tide')
  })

  it('aborts the read when the listener goes away mid-song', async () => {
    const song = byTitle('Morning Light')
    const readsBefore = api.reads.length
    await new Promise<void>((resolve, reject) => {
      const req = http.get(
        {
          host: '127.0.0.1',
          port: api.port,
          path: `/api/songs/${song.cid}/stream`,
          headers: auth(api.token),
        },
        (res) => {
          res.once('data', () => {
            req.destroy()
            resolve()
          })
        },
      )
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)))
    })
    const read = api.reads[readsBefore]
    assert.ok(read !== undefined)
    await waitFor(() => read.signal.aborted, 'the read signal to abort')
  })
})
