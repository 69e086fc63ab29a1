// A listening party in real Chromium: two nodes in one party, a speaker page on each, both play the same song and their playheads agree on the party clock; so does B's party room after "Play here", whose device delay survives a reload.
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { browserSkipReason, launchChromium, SCREENSHOTS } from '../helpers/chromium.ts'
import { type NodeProcess, startNode } from '../helpers/node-process.ts'
import { waitFor } from '../helpers/wait.ts'

/**
 * Two speakers agree when they start the song at the same party time. Each
 * page's error budget: its page↔node party-clock estimate over loopback HTTP
 * (under 1 ms), the audio clock, which headless Chromium advances in steps of
 * 1024 frames (23 ms) and the player de-jitters to about 1 ms, and the
 * correction policy, which lets a drift under 2 ms stand and nudges larger
 * ones away by ≤ 0.3 %; node B's party clock (synced to A over libp2p on
 * loopback) adds a millisecond or two. Measured: about 1.5 ms at worst.
 * 30 ms is roughly where two speakers in one room start to sound like an echo,
 * and far above that budget, so it fails on a sync bug (a wrong song start,
 * a clock off by a round trip or more), not on a slow or loaded machine.
 * Smaller errors — a start one audio step (23 ms) off, since fixed — show in
 * the printed figures rather than the assertion.
 */
const AGREEMENT_MS = 30

/**
 * The agreement is asserted on readings where both pages call themselves
 * settled (own error against their node's party clock within this): when the
 * machine is loaded, the browser's audio thread can stall, and a page then
 * spends seconds nudging a 10–40 ms error away (or resyncs above 40 ms) —
 * correct behaviour, visible in the printed figures, but not a disagreement
 * between the nodes. A page that settles on the wrong time still fails.
 */
const SETTLED_MS = 5

interface Api {
  get<T>(path: string): Promise<T>
  post<T>(path: string, body: unknown): Promise<T>
}

/** The node's API, authorised with the token from its printed web UI link. */
function apiOf(node: NodeProcess): Api {
  const url = new URL(node.webUrl)
  const token = /token=([A-Za-z0-9_-]+)/.exec(url.hash)?.[1] ?? ''
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(new URL(path, url.origin), {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
    return JSON.parse(text) as T
  }
  return { get: (path) => call('GET', path), post: (path, body) => call('POST', path, body) }
}

interface Playhead {
  localTime: number
  mediaPosition: number
  partyTime: number | undefined
  errorMs: number | undefined
  playing: boolean
  entryId?: string
  cid?: string
  idle?: string
}

interface PartyStatus {
  partyId: string
  queue: Array<{ entryId: string; cid: string; title: string }>
  timeline: { entryId: string | null; paused: boolean }
}

/** The page's playhead, with its performance.timeOrigin to put localTime on the machine's clock. */
async function playheadOf(page: Page): Promise<(Playhead & { timeOrigin: number }) | undefined> {
  // The hook web/src/party/party-player.tsx installs (speaker page and party room): the SyncedPlayer's latest playhead.
  return page.evaluate(() => {
    const ph = (window as unknown as { __tuttiPlayhead?: () => Playhead | undefined }).__tuttiPlayhead?.()
    return ph === undefined ? undefined : { ...ph, timeOrigin: performance.timeOrigin }
  })
}

/** The machine's clock as every process on it reads it (ms): performance.timeOrigin + now(). */
const machineNow = () => performance.timeOrigin + performance.now()

/**
 * Node's party clock minus the machine's clock, ms, from the speaker clock
 * ping with the least round trip (loopback, so within ± rtt/2).
 */
async function partyClockOffset(speakerUrl: string): Promise<{ offset: number; rtt: number }> {
  const url = new URL(speakerUrl)
  const token = /token=([A-Za-z0-9_-]+)/.exec(url.hash)?.[1] ?? ''
  let best = { offset: 0, rtt: Number.POSITIVE_INFINITY }
  for (let i = 0; i < 10; i++) {
    const t0 = machineNow()
    const res = await fetch(new URL('/api/party/speaker/clock', url.origin), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ t0 }),
    })
    const { t1 } = (await res.json()) as { t1: number }
    const t3 = machineNow()
    if (t3 - t0 < best.rtt) best = { offset: t1 - (t0 + t3) / 2, rtt: t3 - t0 }
  }
  return best
}

/**
 * The time, on node A's party clock, at which this page's song position was
 * 0: the playhead's local time moved onto the machine's clock and then onto
 * A's party clock (`offsetA`), minus its media position. Rate 1: a nudge of
 * ≤ 0.3 % over a few seconds moves this far less than the bound. Two pages
 * heard in sync give the same value whenever each was read. (Each page's own
 * `partyTime` is on its own node's party clock, so comparing those would hide
 * a disagreement between the nodes.)
 */
function songStartOnPartyClockA(ph: Playhead & { timeOrigin: number }, offsetA: number): number {
  return ph.timeOrigin + ph.localTime + offsetA - ph.mediaPosition * 1000
}

const partySuite = () =>
  describe('listening party in Chromium', () => {
    let a: NodeProcess
    let b: NodeProcess
    let browser: Browser
    const pages: Page[] = []
    const speakerUrls: string[] = []
    let song: { cid: string; title: string; artist: string; durationSec: number } | undefined
    const pageErrors: string[] = []

    before(async () => {
      a = await startNode([])
      const address = a.listenAddrs.find((addr) => addr.includes('/p2p/'))
      assert.ok(address, `node A printed a dialable address: ${a.listenAddrs.join(', ')}`)
      b = await startNode(['--bootstrap', address])
      browser = await launchChromium()
      await mkdir(SCREENSHOTS, { recursive: true })
    })

    after(async () => {
      await browser?.close()
      await b?.stop()
      await a?.stop()
    })

    it('forms a party on two nodes and plays a demo song on both speaker pages', async () => {
      const apiA = apiOf(a)
      const apiB = apiOf(b)
      const created = await apiA.post<{ invite: string }>('/api/party', { name: 'Browser Sync' })
      assert.match(created.invite, /^tutti:\/\/join\//)
      await apiB.post('/api/party/join', { invite: created.invite })

      await waitFor(
        async () => {
          const { songs } = await apiA.get<{ songs: (typeof song & {})[] }>('/api/library')
          // The longest (Morning Loop, 37 s): the sampling must end before the song does, even on a loaded machine.
          song = songs.length >= 6 ? songs.toSorted((x, y) => y.durationSec - x.durationSec)[0] : undefined
          return song !== undefined
        },
        'the six demo songs in A’s library',
        { timeoutMs: 60_000 },
      )
      assert.ok(song)
      await apiA.post('/api/party/commands', {
        command: {
          type: 'enqueue',
          song: { cid: song.cid, title: song.title, artist: song.artist, durationSec: song.durationSec },
        },
      })
      await apiA.post('/api/party/commands', { command: { type: 'play' } })
      // B follows the party log: wait until it sees the song playing too.
      await waitFor(
        async () => {
          const { party } = await apiB.get<{ party: PartyStatus | null }>('/api/party')
          return party?.queue.some((e) => e.cid === song?.cid) === true && party.timeline.paused === false
        },
        'node B to see the song playing',
        { timeoutMs: 30_000 },
      )

      // Each speaker page opens on its own node, with that node's speaker link.
      for (const [i, api] of [apiA, apiB].entries()) {
        const { url } = await api.post<{ url: string }>('/api/party/speaker-token', {})
        assert.match(url, /\/speaker#token=/)
        speakerUrls.push(url)
        const context = await browser.newContext({ viewport: { width: 800, height: 600 } })
        const page = await context.newPage()
        page.on('pageerror', (err) => pageErrors.push(`page ${i}: ${err.message}`))
        await page.goto(url)
        await page.getByRole('button', { name: 'Tap to play along' }).click()
        pages.push(page)
      }
      for (const [i, page] of pages.entries()) {
        await waitFor(
          async () => (await playheadOf(page))?.playing === true,
          `speaker page ${i} to start playing`,
          { timeoutMs: 60_000 },
        )
      }
      const [first, second] = await Promise.all(pages.map(playheadOf))
      assert.equal(first?.cid, song.cid, 'page A plays the queued song')
      assert.equal(second?.cid, song.cid, 'page B plays the queued song')
      assert.equal(first?.entryId, second?.entryId, 'both play the same queue entry')
      await waitFor(
        async () => ((await pages[1].textContent('main')) ?? '').includes(song?.title ?? '?'),
        'the song title on B’s speaker page',
      )
      await pages[1].screenshot({ path: join(SCREENSHOTS, 'party-speaker.png') })
    })

    /**
     * Samples two playing pages until both are settled on 10 readings (or 30
     * are taken), prints the figures, and asserts that they play the same
     * entry at the same moment on node A's party clock and that both advance.
     */
    async function assertInStep(pair: [Page, Page], names: [string, string]): Promise<void> {
      // Let the correction loop settle after the start (it runs every 250 ms).
      await new Promise((r) => setTimeout(r, 2_000))
      const clockA = await partyClockOffset(speakerUrls[0])
      const differences: number[] = []
      const settledDifferences: number[] = []
      const pageClockA: number[] = []
      /** The second page's party clock against the machine clock; node B's offset is subtracted once measured. */
      const pageClockBRaw: number[] = []
      const pageErrorsMs: string[] = []
      const positions: number[][] = [[], []]
      const notPlaying: string[] = []
      // The timelines the nodes serve meanwhile: no command is sent, so a change here is the node's doing.
      const timelines = new Set<string>()
      const apis = [apiOf(a), apiOf(b)]
      // Up to 30 readings, 300 ms apart, until 10 find both pages settled (see SETTLED_MS).
      for (let i = 0; i < 30 && settledDifferences.length < 10; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 300))
        for (const [n, api] of apis.entries()) {
          const { party } = await api.get<{ party: PartyStatus | null }>('/api/party')
          timelines.add(`node ${'AB'[n]}: ${JSON.stringify(party?.timeline)}`)
        }
        const [pa, pb] = await Promise.all(pair.map(playheadOf))
        assert.ok(pa !== undefined && pb !== undefined, `${names.join(' and ')} expose their playhead`)
        if (!pa.playing || !pb.playing) {
          // Mid-resync (a new source scheduled ~50 ms ahead): the audio thread stalled under load, or the timeline moved.
          notPlaying.push(`${pa.idle ?? 'playing'} / ${pb.idle ?? 'playing'}`)
          continue
        }
        assert.equal(pa.cid, pb.cid, `${names.join(' and ')} play the same song`)
        assert.equal(pa.entryId, pb.entryId, `${names.join(' and ')} play the same queue entry`)
        const difference =
          songStartOnPartyClockA(pb, clockA.offset) - songStartOnPartyClockA(pa, clockA.offset)
        differences.push(difference)
        if (
          Math.abs(pa.errorMs ?? Number.POSITIVE_INFINITY) <= SETTLED_MS &&
          Math.abs(pb.errorMs ?? Number.POSITIVE_INFINITY) <= SETTLED_MS
        )
          settledDifferences.push(difference)
        // The first page's own party clock against node A's, as this process measured it.
        pageClockA.push((pa.partyTime ?? Number.NaN) - (pa.timeOrigin + pa.localTime + clockA.offset))
        pageClockBRaw.push((pb.partyTime ?? Number.NaN) - (pb.timeOrigin + pb.localTime))
        pageErrorsMs.push(`${pa.errorMs?.toFixed(1)}/${pb.errorMs?.toFixed(1)}`)
        positions[0].push(pa.mediaPosition)
        positions[1].push(pb.mediaPosition)
      }
      const fmt = (ds: number[]) => ds.map((d) => d.toFixed(2)).join(', ')
      const worst = Math.max(...settledDifferences.map(Math.abs))
      console.log(`[${names.join(' vs ')}]`)
      console.log(`timelines served while sampling: ${[...timelines].join(' | ')}`)
      console.log(`playhead ${names[1]} − ${names[0]} on node A's party clock, ms: ${fmt(differences)}`)
      console.log(`  of which both pages settled: ${fmt(settledDifferences)} (worst ${worst.toFixed(2)})`)
      console.log(`each page's own error against its node's party clock, ms: ${pageErrorsMs.join(', ')}`)
      if (notPlaying.length > 0) console.log(`readings mid-resync (skipped): ${notPlaying.join(', ')}`)
      const clockB = await partyClockOffset(speakerUrls[1])
      console.log(
        `node B − node A party clock, ms: ${(clockB.offset - clockA.offset).toFixed(2)} (± ${((clockA.rtt + clockB.rtt) / 2).toFixed(2)} from loopback round trips)`,
      )
      console.log(
        `${names[0]}'s party clock − its node's, ms: ${fmt(pageClockA)} (± ${(clockA.rtt / 2).toFixed(2)})`,
      )
      const pageClockB = pageClockBRaw.map((d) => d - clockB.offset)
      console.log(
        `${names[1]}'s party clock − its node's, ms: ${fmt(pageClockB)} (± ${(clockB.rtt / 2).toFixed(2)})`,
      )
      assert.ok(
        settledDifferences.length >= 3,
        `both pages settled (|own error| ≤ ${SETTLED_MS} ms) in ${settledDifferences.length} of ${differences.length} playing readings; timelines: ${[...timelines].join(' | ')}`,
      )
      // CI shows the assertion, not the log: carry the clocks that tell which side moved.
      assert.ok(
        worst <= AGREEMENT_MS,
        `settled playheads differ by up to ${worst.toFixed(2)} ms: ${fmt(settledDifferences)}; ` +
          `all readings ${fmt(differences)}; own errors ${pageErrorsMs.join(', ')}; ` +
          `${names[0]}'s clock − node A's ${fmt(pageClockA)}; ${names[1]}'s − node B's ${fmt(pageClockB)}; ` +
          `node B − node A ${(clockB.offset - clockA.offset).toFixed(2)} ms`,
      )
      for (const [i, p] of positions.entries()) {
        const grew = (p.at(-1) ?? 0) - (p[0] ?? 0)
        assert.ok(
          grew > 1,
          `${names[i]}'s position advanced by ${grew.toFixed(3)} s over ${p.length} readings ≥ 300 ms apart: ${p.join(', ')}`,
        )
      }
    }

    it('keeps both speakers on the same playhead while the audio advances', async () => {
      assert.equal(pages.length, 2, 'both speaker pages are open')
      await assertInStep([pages[0], pages[1]], ['speaker page A', 'speaker page B'])
      assert.deepEqual(pageErrors, [], 'no uncaught errors in the speaker pages')
    })

    it('plays the party in B’s party room ("Play here"), in step with A’s speaker page; the device delay survives a reload', async () => {
      assert.equal(pages.length, 2, 'both speaker pages are open')
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
      const room = await context.newPage()
      room.on('pageerror', (err) => pageErrors.push(`party room B: ${err.message}`))
      await room.goto(b.webUrl)
      await room.evaluate(() => {
        window.location.hash = '#/party'
      })
      const openRoom = async () => {
        await waitFor(
          async () => ((await room.textContent('body')) ?? '').includes(song?.title ?? '?'),
          'the playing song in B’s party room',
        )
        assert.equal(
          (await playheadOf(room))?.playing ?? false,
          false,
          'no sound before the user asks for it',
        )
        await room.getByRole('button', { name: 'Play here' }).click()
        await waitFor(async () => (await playheadOf(room))?.playing === true, 'B’s party room to play', {
          timeoutMs: 60_000,
        })
      }
      await openRoom()
      const ph = await playheadOf(room)
      assert.equal(ph?.cid, song?.cid, 'the party room plays the queued song')
      await room.screenshot({ path: join(SCREENSHOTS, 'party-room-playing.png') })
      await assertInStep([pages[0], room], ['speaker page A', 'party room B'])

      // Mute keeps following the party; unmute again.
      await room.getByRole('button', { name: 'Mute' }).click()
      await waitFor(async () => (await room.getByRole('button', { name: 'Unmute' }).count()) === 1, 'unmute')
      assert.equal((await playheadOf(room))?.playing, true, 'a muted room still follows the party')
      await room.getByRole('button', { name: 'Unmute' }).click()

      // The device delay: two steps later, kept in this browser across a reload.
      const delay = room.getByRole('spinbutton', { name: 'Device delay (ms)' })
      assert.equal(await delay.inputValue(), '0')
      await room.getByRole('button', { name: 'Play 10 ms later' }).click()
      await room.getByRole('button', { name: 'Play 10 ms later' }).click()
      // A click returns before React has re-rendered the input (seen under load in the full suite).
      await waitFor(async () => (await delay.inputValue()) === '20', 'the delay to read 20 ms')
      await room.reload()
      await room.evaluate(() => {
        window.location.hash = '#/party'
      })
      await waitFor(
        async () => (await room.getByRole('spinbutton', { name: 'Device delay (ms)' }).count()) === 1,
        'the delay control after the reload',
      )
      // Restored from this browser's storage; the control may render before the stored value is applied.
      await waitFor(
        async () => (await room.getByRole('spinbutton', { name: 'Device delay (ms)' }).inputValue()) === '20',
        'the stored delay of 20 ms after the reload',
      )
      assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages')
      await context.close()
    })

    it('shows the party room in the main UI', async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
      page.on('pageerror', (err) => pageErrors.push(`party room: ${err.message}`))
      await page.goto(a.webUrl)
      await page.evaluate(() => {
        window.location.hash = '#/party'
      })
      await waitFor(
        async () => /Browser Sync/.test((await page.textContent('body')) ?? ''),
        'the party name in the party room',
      )
      await waitFor(
        async () => ((await page.textContent('body')) ?? '').includes(song?.title ?? '?'),
        'the playing song in the party room',
      )
      await page.screenshot({ path: join(SCREENSHOTS, 'party-room.png') })
      const members = page.locator('.card').filter({ has: page.locator('h2', { hasText: 'Members' }) })
      await waitFor(
        async () => (await members.locator('tbody tr').count()) === 2,
        'both nodes in the members table',
      )
      await members.screenshot({ path: join(SCREENSHOTS, 'party-room-members.png') })
      assert.deepEqual(pageErrors, [], 'no uncaught errors in the party room')
      await page.close()
    })
  })

// Without Chromium the run reports a skipped test with the reason, never a pass.
if (browserSkipReason === undefined) partySuite()
else it('listening party in Chromium', (t) => t.skip(browserSkipReason))
