// The one share rule: a song's folder scope (longest folder wins) and the requester's party membership decide; the node's settings list every library and the download folder.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mayShare, nodeShareSettings, type ShareSettings, shareScopeCheck } from '../../src/search/share.ts'
import { song } from './fake-library.ts'

const settings: ShareSettings = {
  defaultScope: 'everyone',
  folders: [
    { path: '/music', scope: 'everyone' },
    { path: '/music/private', scope: 'nobody' },
    { path: '/music/private/for-friends', scope: 'party' },
  ],
}

test('mayShare: everyone to anyone, party to members only, nobody to no one', () => {
  const cases: Array<[string, boolean, boolean]> = [
    ['/music/a.mp3', false, true],
    ['/music/a.mp3', true, true],
    ['/music/private/b.mp3', false, false],
    ['/music/private/b.mp3', true, false],
    ['/music/private/for-friends/c.mp3', false, false],
    ['/music/private/for-friends/c.mp3', true, true],
    ['/music/privateer/d.mp3', false, true],
  ]
  for (const [path, member, expected] of cases)
    assert.equal(mayShare(settings, path, member), expected, `${path} to a ${member ? 'member' : 'stranger'}`)
})

test('shareScopeCheck asks the membership predicate about the requesting peer', () => {
  const check = shareScopeCheck(settings, (peerId) => peerId === 'friend')
  const friends = song('Tape', 'Me', 'Tapes', { path: '/music/private/for-friends/t.mp3' })
  assert.equal(check('friend', friends), true)
  assert.equal(check('stranger', friends), false)
})

test('nodeShareSettings: libraries and the download folder are listed, shared with everyone unless a rule says otherwise', () => {
  const s = nodeShareSettings(['/music', '/more'], '/data/music', [
    { path: '/more', scope: 'party' },
    { path: '/music/private', scope: 'nobody' },
  ])
  assert.deepEqual(s.folders, [
    { path: '/more', scope: 'party' },
    { path: '/music/private', scope: 'nobody' },
    { path: '/music', scope: 'everyone' },
    { path: '/data/music', scope: 'everyone' },
  ])
  assert.equal(mayShare(s, '/data/music/fetched.mp3', false), true, 'downloads are public content')
  const hidden = nodeShareSettings([], '/data/music', [{ path: '/data', scope: 'nobody' }])
  assert.equal(
    mayShare(hidden, '/data/music/x.mp3', false),
    true,
    'a rule on a parent does not cover downloads',
  )
  const named = nodeShareSettings([], '/data/music', [{ path: '/data/music', scope: 'nobody' }])
  assert.equal(mayShare(named, '/data/music/x.mp3', false), false, 'naming the download folder does')
})
