/**
 * The party room: create or join a party; then now playing with progress, the
 * shared queue (drag to reorder), controls greyed out when the party's
 * permissions do not allow them, members with their sync error, the invite
 * and speaker QR codes, and join requests for the host. "Play here" plays the
 * party in this browser, in sync, through the same player as the speaker page
 * (./party-player.tsx), with a mute toggle and this device's delay.
 *
 * Follows the party by polling GET /api/party once a second (cheap, and it
 * keeps working whether or not the event stream forwards party events).
 */
import { type DragEvent, useCallback, useEffect, useRef, useState } from 'react'
import type { PartyStatus } from '../../../src/party/service.ts'
import type { PartyCommand, QueueEntry } from '../../../src/party/state.ts'
import { ApiError, api, type Song, songStreamUrl } from '../api.ts'
import type { PageProps } from '../pages.ts'
import { OffsetControl, syncText, usePartyPlayer } from './party-player.tsx'

type FoundParty = { partyId: string; name: string; members: number; nearby: boolean; invite: string }

function fmt(sec: number): string {
  const s = Math.max(0, Math.floor(sec))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

function errorText(err: unknown): string {
  return err instanceof ApiError || err instanceof Error ? err.message : String(err)
}

function usePartyStatus(): [PartyStatus | null | undefined, () => void] {
  const [party, setParty] = useState<PartyStatus | null>()
  const [tick, setTick] = useState(0)
  // biome-ignore lint/correctness/useExhaustiveDependencies: `tick` forces a refetch
  useEffect(() => {
    const controller = new AbortController()
    const load = () =>
      api.get<{ party: PartyStatus | null }>('/api/party', controller.signal).then(
        (b) => setParty(b.party),
        () => undefined,
      )
    void load()
    const timer = setInterval(load, 1_000)
    return () => {
      controller.abort()
      clearInterval(timer)
    }
  }, [tick])
  return [party, () => setTick((t) => t + 1)]
}

function hostName(party: PartyStatus): string {
  const host =
    party.members.find((m) => m.peerId === party.leader) ?? party.members.find((m) => m.role === 'host')
  return host === undefined ? 'electing…' : `${host.name}${host.self ? ' (you)' : ''}`
}

/** A brief notice when the party's host changes (failover or hand-over); fades after a few seconds. */
function HostChangeNotice({ party }: { party: PartyStatus }) {
  const previous = useRef<string | undefined>(party.leader)
  const [notice, setNotice] = useState<string>()
  useEffect(() => {
    const before = previous.current
    previous.current = party.leader
    if (before === undefined || party.leader === undefined || before === party.leader) return
    setNotice(`The party has a new host: ${hostName(party)} (term ${party.term}). The music goes on.`)
    const timer = setTimeout(() => setNotice(undefined), 6_000)
    return () => clearTimeout(timer)
  }, [party])
  return notice === undefined ? null : (
    <p role="status" className="card" style={{ padding: 8, marginBottom: 12 }}>
      {notice}
    </p>
  )
}

export function PartyRoom({ query }: PageProps) {
  const [party, refresh] = usePartyStatus()
  const [error, setError] = useState<string>()

  const run = useCallback(
    async (command: PartyCommand) => {
      setError(undefined)
      try {
        await api.post('/api/party/commands', { command })
        refresh()
      } catch (err) {
        setError(errorText(err))
      }
    },
    [refresh],
  )

  if (party === undefined) return <section className="page">Loading…</section>
  if (party === null) return <NoParty initialInvite={query.get('invite') ?? ''} onDone={refresh} />

  return (
    <section className="page">
      <header className="page-header">
        <h1>{party.name || 'Party'}</h1>
        <span className="muted">
          {party.role === 'host' ? 'You are the host' : 'Member'} · control: {party.permissions.mode} · host{' '}
          {hostName(party)} · term {party.term}
          {party.connection !== 'connected' && <strong> · {party.connection}…</strong>}
        </span>
      </header>
      <HostChangeNotice party={party} />
      {party.awaitingApproval && <p className="muted">Waiting for the host to let you in…</p>}
      {party.ended && <p className="muted">The party has ended.</p>}
      {error !== undefined && (
        <p role="alert" style={{ color: 'var(--danger)' }}>
          {error}
        </p>
      )}
      <NowPlaying party={party} run={run} />
      <ListenHere party={party} />
      <Queue party={party} run={run} />
      <AddSong party={party} run={run} />
      <Members party={party} run={run} />
      <Share party={party} />
      <button
        type="button"
        onClick={() => api.post('/api/party/leave').then(refresh, (err: unknown) => setError(errorText(err)))}
      >
        {party.role === 'host' ? 'End the party' : 'Leave the party'}
      </button>
    </section>
  )
}

function NowPlaying({ party, run }: { party: PartyStatus; run: (c: PartyCommand) => void }) {
  // Advance the progress bar locally between polls: position at the status' party time + elapsed.
  const [, setFrame] = useState(0)
  const fetchedAt = useRef({ at: performance.now(), partyTime: party.partyTime })
  useEffect(() => {
    fetchedAt.current = { at: performance.now(), partyTime: party.partyTime }
  }, [party.partyTime])
  useEffect(() => {
    const t = setInterval(() => setFrame((f) => f + 1), 250)
    return () => clearInterval(t)
  }, [])
  const now = party.nowPlaying
  const elapsed = now.playing ? (performance.now() - fetchedAt.current.at) / 1000 : 0
  const position = now.entry === null ? 0 : Math.min(now.entry.durationSec, now.position + elapsed)
  const can = party.can.controlMusic && !party.ended
  const why = can ? undefined : 'The party’s permissions do not let you control the music'
  return (
    <div className="card" style={{ padding: 12, marginBottom: 12 }}>
      <h2 style={{ margin: 0 }}>Now playing</h2>
      {now.entry === null ? (
        <p className="muted">Nothing yet — add a song below.</p>
      ) : (
        <>
          <p style={{ margin: '6px 0' }}>
            <strong>{now.entry.title}</strong> <span className="muted">{now.entry.artist}</span>
          </p>
          <progress max={now.entry.durationSec} value={position} style={{ width: '100%' }} />
          <div className="muted">
            {fmt(position)} / {fmt(now.entry.durationSec)}{' '}
            {now.playing ? '' : now.finished ? '(finished)' : '(paused)'}
          </div>
        </>
      )}
      <div style={{ display: 'flex', gap: 8, marginTop: 8 }}>
        <button type="button" disabled={!can} title={why} onClick={() => run({ type: 'previous' })}>
          Previous
        </button>
        {now.playing ? (
          <button type="button" disabled={!can} title={why} onClick={() => run({ type: 'pause' })}>
            Pause
          </button>
        ) : (
          <button type="button" disabled={!can} title={why} onClick={() => run({ type: 'play' })}>
            Play
          </button>
        )}
        <button type="button" disabled={!can} title={why} onClick={() => run({ type: 'skip' })}>
          Skip
        </button>
        {now.entry !== null && (
          <input
            type="range"
            aria-label="Seek"
            disabled={!can}
            title={why}
            min={0}
            max={now.entry.durationSec}
            step={1}
            value={position}
            onChange={(e) => run({ type: 'seek', position: Number(e.target.value) })}
          />
        )}
      </div>
    </div>
  )
}

/** The party's timeline in this browser: "Play here" (a user gesture, as browsers require), then mute/unmute. */
function ListenHere({ party }: { party: PartyStatus }) {
  const player = usePartyPlayer({
    party,
    pingPartyClock: (signal) =>
      api.post<{ t1: number; t2: number }>('/api/party/speaker/clock', { t0: 0 }, signal),
    songUrl: songStreamUrl,
  })
  return (
    <div className="card" style={{ padding: 12, marginBottom: 12 }}>
      <h2 style={{ margin: 0 }}>Listen here</h2>
      {!player.started ? (
        <p style={{ margin: '6px 0' }}>
          <button type="button" onClick={() => void player.start()}>
            Play here
          </button>{' '}
          <span className="muted">plays the party on this device, in sync with everyone else</span>
        </p>
      ) : (
        <p style={{ margin: '6px 0' }}>
          <button type="button" onClick={() => player.setMuted(!player.muted)}>
            {player.muted ? 'Unmute' : 'Mute'}
          </button>{' '}
          <span className="muted">
            {player.muted ? 'Muted — still following the party' : syncText(player)}
          </span>
        </p>
      )}
      <OffsetControl player={player} />
    </div>
  )
}

const READINESS_TEXT: Record<PartyStatus['readiness'][string], string> = {
  local: 'on this device',
  ready: 'streaming in time',
  arriving: 'still arriving — joins in when ready',
  missing: 'not here yet',
}

function Queue({ party, run }: { party: PartyStatus; run: (c: PartyCommand) => void }) {
  const [dragging, setDragging] = useState<string>()
  const can = party.can.controlMusic && !party.ended
  const currentIndex = party.queue.findIndex((e) => e.entryId === party.nowPlaying.entry?.entryId)
  const upcoming = party.queue.map((e, i) => ({ e, i })).filter(({ i }) => i > currentIndex)
  const onDrop = (target: QueueEntry, index: number) => (ev: DragEvent) => {
    ev.preventDefault()
    if (dragging !== undefined && dragging !== target.entryId)
      run({ type: 'move', entryId: dragging, toIndex: index })
    setDragging(undefined)
  }
  return (
    <div className="card" style={{ padding: 12, marginBottom: 12 }}>
      <h2 style={{ margin: 0 }}>Up next</h2>
      {upcoming.length === 0 ? (
        <p className="muted">The queue is empty.</p>
      ) : (
        <ol style={{ paddingLeft: 20 }}>
          {upcoming.map(({ e, i }) => (
            <li
              key={e.entryId}
              draggable={can}
              onDragStart={() => setDragging(e.entryId)}
              onDragOver={(ev) => ev.preventDefault()}
              onDrop={onDrop(e, i)}
              style={{
                cursor: can ? 'grab' : 'default',
                opacity: dragging === e.entryId ? 0.5 : 1,
                padding: '4px 0',
              }}
            >
              <strong>{e.title}</strong> <span className="muted">{e.artist}</span>{' '}
              <span className="muted">{fmt(e.durationSec)}</span>{' '}
              {party.readiness[e.cid] !== undefined && party.readiness[e.cid] !== 'local' && (
                <span className="muted">({READINESS_TEXT[party.readiness[e.cid]]}) </span>
              )}
              <button type="button" disabled={!can} onClick={() => run({ type: 'play', entryId: e.entryId })}>
                Play now
              </button>{' '}
              <button
                type="button"
                disabled={!can}
                onClick={() => run({ type: 'remove', entryId: e.entryId })}
              >
                Remove
              </button>
            </li>
          ))}
        </ol>
      )}
    </div>
  )
}

function AddSong({ party, run }: { party: PartyStatus; run: (c: PartyCommand) => void }) {
  const [q, setQ] = useState('')
  const [songs, setSongs] = useState<Song[]>([])
  useEffect(() => {
    const controller = new AbortController()
    api.library(q, controller.signal).then(
      (b) => setSongs(b.songs.slice(0, 8)),
      () => undefined,
    )
    return () => controller.abort()
  }, [q])
  const can = party.can.controlMusic && !party.ended
  return (
    <div className="card" style={{ padding: 12, marginBottom: 12 }}>
      <h2 style={{ margin: 0 }}>Add from your library</h2>
      <input placeholder="Search your library" value={q} onChange={(e) => setQ(e.target.value)} />
      <ul>
        {songs.map((s) => (
          <li key={s.cid}>
            {s.title} <span className="muted">{s.artist}</span>{' '}
            <button
              type="button"
              disabled={!can}
              onClick={() =>
                run({
                  type: 'enqueue',
                  song: { cid: s.cid, title: s.title, artist: s.artist, durationSec: s.durationSec },
                })
              }
            >
              Queue
            </button>
          </li>
        ))}
      </ul>
    </div>
  )
}

function Members({ party, run }: { party: PartyStatus; run: (c: PartyCommand) => void }) {
  const host = party.can.manageParty
  return (
    <div className="card" style={{ padding: 12, marginBottom: 12 }}>
      <h2 style={{ margin: 0 }}>Members</h2>
      <table className="table members">
        <thead>
          <tr>
            <th>Name</th>
            <th>Role</th>
            <th>Replica</th>
            <th>RTT</th>
            <th>Sync error</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {party.members.map((m) => (
            <tr key={m.peerId} style={{ opacity: m.suspected ? 0.5 : 1 }}>
              <td>
                {m.name}
                {m.self ? ' (you)' : ''}
                {m.suspected ? ' — not answering' : ''}
              </td>
              <td>{m.role}</td>
              <td>
                {m.replica ?? '–'}
                {m.health === 'unreachable' ? ' (unreachable)' : ''}
              </td>
              <td>{m.rttMs === undefined ? '–' : `${m.rttMs.toFixed(1)} ms`}</td>
              <td>{m.syncErrorMs === undefined ? '–' : `±${m.syncErrorMs.toFixed(1)} ms`}</td>
              <td>
                {host && m.role !== 'host' && (
                  <button type="button" onClick={() => run({ type: 'remove-member', peerId: m.peerId })}>
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {host && party.pending.length > 0 && (
        <>
          <h3>Join requests</h3>
          <ul>
            {party.pending.map((p) => (
              <li key={p.peerId}>
                {p.name} <span className="muted">{p.peerId.slice(0, 12)}…</span>{' '}
                <button type="button" onClick={() => run({ type: 'approve', peerId: p.peerId })}>
                  Let in
                </button>{' '}
                <button type="button" onClick={() => run({ type: 'reject', peerId: p.peerId })}>
                  Decline
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
      {host && (
        <div style={{ marginTop: 8 }}>
          Who controls the music:{' '}
          <select
            value={party.permissions.mode}
            onChange={(e) =>
              run({
                type: 'set-permissions',
                mode: e.target.value as PartyStatus['permissions']['mode'],
                djs: party.permissions.djs,
              })
            }
          >
            <option value="everyone">everyone</option>
            <option value="djs">host and DJs</option>
            <option value="host-only">host only</option>
          </select>
          {party.permissions.mode === 'djs' && (
            <span>
              {' '}
              DJs:{' '}
              {party.members
                .filter((m) => m.role !== 'host')
                .map((m) => (
                  <label key={m.peerId} style={{ marginRight: 8 }}>
                    <input
                      type="checkbox"
                      checked={party.permissions.djs.includes(m.peerId)}
                      onChange={(e) =>
                        run({
                          type: 'set-permissions',
                          mode: 'djs',
                          djs: e.target.checked
                            ? [...party.permissions.djs, m.peerId]
                            : party.permissions.djs.filter((d) => d !== m.peerId),
                        })
                      }
                    />{' '}
                    {m.name}
                  </label>
                ))}
            </span>
          )}
        </div>
      )}
    </div>
  )
}

function Share({ party }: { party: PartyStatus }) {
  const [inviteSvg, setInviteSvg] = useState<string>()
  const [speaker, setSpeaker] = useState<{ url: string; qrSvg: string }>()
  useEffect(() => {
    api.get<{ qrSvg?: string }>('/api/party/invite').then(
      (b) => setInviteSvg(b.qrSvg),
      () => undefined,
    )
  }, [])
  return (
    <div
      className="card"
      style={{ padding: 12, marginBottom: 12, display: 'flex', gap: 24, flexWrap: 'wrap' }}
    >
      <div>
        <h2 style={{ margin: 0 }}>Invite</h2>
        {inviteSvg !== undefined && <QrImage svg={inviteSvg} alt="Invite QR code" />}
        <input readOnly value={party.invite} style={{ width: 260 }} onFocus={(e) => e.target.select()} />
      </div>
      <div>
        <h2 style={{ margin: 0 }}>Speaker</h2>
        <p className="muted">Any phone or laptop in the room can play along: open this link on it.</p>
        {speaker === undefined ? (
          <button
            type="button"
            onClick={() =>
              api
                .post<{ url: string; qrSvg: string }>('/api/party/speaker-token', {
                  origin: window.location.origin,
                })
                .then(setSpeaker, () => undefined)
            }
          >
            Make a speaker link
          </button>
        ) : (
          <>
            <QrImage svg={speaker.qrSvg} alt="Speaker link QR code" />
            <input readOnly value={speaker.url} style={{ width: 260 }} onFocus={(e) => e.target.select()} />
          </>
        )}
      </div>
    </div>
  )
}

/** A QR code SVG drawn by our node, shown as an image (never injected as markup). */
function QrImage({ svg, alt }: { svg: string; alt: string }) {
  return <img src={`data:image/svg+xml;utf8,${encodeURIComponent(svg)}`} alt={alt} width={180} height={180} />
}

function NoParty({ initialInvite, onDone }: { initialInvite: string; onDone: () => void }) {
  const [name, setName] = useState('Friday')
  const [approve, setApprove] = useState(false)
  const [isPublic, setPublic] = useState(false)
  const [invite, setInvite] = useState(initialInvite)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string>()
  const [parties, setParties] = useState<FoundParty[]>([])
  useEffect(() => {
    api.get<{ parties: FoundParty[] }>('/api/party/parties').then(
      (b) => setParties(b.parties),
      () => undefined,
    )
  }, [])
  const act = (p: Promise<unknown>) => {
    setBusy(true)
    setError(undefined)
    p.then(onDone, (err: unknown) => setError(errorText(err))).finally(() => setBusy(false))
  }
  const join = (link: string) => act(api.post('/api/party/join', { invite: link }))
  return (
    <section className="page">
      <header className="page-header">
        <h1>Party</h1>
      </header>
      {error !== undefined && (
        <p role="alert" style={{ color: 'var(--danger)' }}>
          {error}
        </p>
      )}
      <div className="card" style={{ padding: 12, marginBottom: 12 }}>
        <h2 style={{ margin: 0 }}>Start a party</h2>
        <input value={name} onChange={(e) => setName(e.target.value)} maxLength={64} />{' '}
        <label>
          <input type="checkbox" checked={approve} onChange={(e) => setApprove(e.target.checked)} /> I let
          people in
        </label>{' '}
        <label>
          <input type="checkbox" checked={isPublic} onChange={(e) => setPublic(e.target.checked)} /> Public
        </label>{' '}
        <button
          type="button"
          disabled={busy || name.trim() === ''}
          onClick={() =>
            act(
              api.post('/api/party', {
                name: name.trim(),
                joinPolicy: approve ? 'approve' : 'open',
                public: isPublic,
              }),
            )
          }
        >
          Create
        </button>
      </div>
      <div className="card" style={{ padding: 12, marginBottom: 12 }}>
        <h2 style={{ margin: 0 }}>Join with an invite</h2>
        <input
          placeholder="tutti://join/…"
          value={invite}
          onChange={(e) => setInvite(e.target.value)}
          style={{ width: 360 }}
        />{' '}
        <button type="button" disabled={busy || invite.trim() === ''} onClick={() => join(invite.trim())}>
          Join
        </button>
        {busy && <span className="muted"> joining… (the host may have to let you in)</span>}
      </div>
      {parties.length > 0 && (
        <div className="card" style={{ padding: 12 }}>
          <h2 style={{ margin: 0 }}>Public parties</h2>
          <ul>
            {[...parties]
              .sort((a, b) => Number(b.nearby) - Number(a.nearby))
              .map((p) => (
                <li key={p.partyId}>
                  {p.nearby && <strong>nearby · </strong>}
                  {p.name} <span className="muted">{p.members} members</span>{' '}
                  <button type="button" disabled={busy} onClick={() => join(p.invite)}>
                    Join
                  </button>
                </li>
              ))}
          </ul>
        </div>
      )}
    </section>
  )
}
