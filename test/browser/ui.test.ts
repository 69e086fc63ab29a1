// The web UI in real Chromium against a real node (`tutti start` on the demo library): token from the link, library table, in-browser playback over HTTP Range, peers and status pages.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { encodeWav } from '../../src/library/demo/encode.ts'
import { browserSkipReason, launchChromium, SCREENSHOTS } from '../helpers/chromium.ts'
import { type NodeProcess, startNode } from '../helpers/node-process.ts'
import { waitFor } from '../helpers/wait.ts'

const browserSuite = () =>
  describe('web UI in Chromium', () => {
    let dataDir: string
    let node: NodeProcess
    let other: NodeProcess | undefined
    let browser: Browser
    let page: Page
    const pageErrors: string[] = []

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'tutti-ui-'))
      // The real demo library: this test also proves a first start generates it.
      node = await startNode([], { dataDir, demo: true })
      browser = await launchChromium()
      page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
      page.on('pageerror', (err) => pageErrors.push(err.message))
      await mkdir(SCREENSHOTS, { recursive: true })
    })

    after(async () => {
      await browser?.close()
      await other?.stop('SIGTERM')
      await node?.stop('SIGTERM')
      if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
    })

    it('opens with the token link, shows the demo library and hides the token from the address bar', async () => {
      assert.match(node.webUrl, /^http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]{43}$/)
      await page.goto(node.webUrl)
      await page.waitForSelector('table.songs tbody tr')
      await waitFor(async () => (await page.locator('table.songs tbody tr').count()) >= 6, 'six demo tracks')
      const titles = await page.locator('table.songs tbody .title-cell').allTextContents()
      assert.ok(titles.includes('Night Drive'), `demo titles: ${titles.join(', ')}`)
      const address = page.url()
      assert.ok(!address.includes('token='), `token left in the address bar: ${address}`)
      await page.waitForSelector('.dot.live')
      await page.screenshot({ path: join(SCREENSHOTS, 'ui-library.png') })
    })

    it('filters the library as the user types', async () => {
      await page.fill('input.filter', 'night')
      await waitFor(
        async () => (await page.locator('table.songs tbody tr').count()) === 1,
        'one match for "night"',
      )
      assert.deepEqual(await page.locator('table.songs tbody .title-cell').allTextContents(), ['Night Drive'])
      await page.fill('input.filter', '')
      await waitFor(
        async () => (await page.locator('table.songs tbody tr').count()) >= 6,
        'the full list again',
      )
    })

    it('shows a song added to the music folder without a reload (event stream)', async () => {
      const frames = 8000 * 3
      const left = new Float32Array(frames).map((_, i) => Math.sin(i / 10) * 0.2)
      const wav = encodeWav(
        { sampleRate: 8000, left, right: left },
        { title: 'Live Arrival', artist: 'Watcher', album: 'Events' },
      )
      await writeFile(join(dataDir, 'demo-library', 'live-arrival.wav'), wav)
      const row = page.locator('table.songs tbody tr').filter({ hasText: 'Live Arrival' })
      await waitFor(async () => (await row.count()) === 1, 'the new song in the table', { timeoutMs: 60_000 })
      assert.equal(await page.locator('table.songs tbody tr').count(), 7)
    })

    it('plays a song in the browser: the audio element streams it and its time advances', async () => {
      const row = page.locator('table.songs tbody tr').filter({ hasText: 'Night Drive' })
      await row.locator('button.play-button').click()
      await waitFor(
        async () =>
          (await page.evaluate(() => (document.getElementById('player') as HTMLAudioElement).currentTime)) >
          1,
        'playback to pass one second',
        { timeoutMs: 30_000 },
      )
      const state = await page.evaluate(() => {
        const audio = document.getElementById('player') as HTMLAudioElement
        return { paused: audio.paused, src: audio.currentSrc, error: audio.error?.message }
      })
      assert.equal(state.paused, false)
      assert.equal(state.error, undefined)
      assert.match(state.src, /\/api\/songs\/[a-z0-9]+\/stream\?token=/)
      assert.equal(await page.locator('.now-playing-title').textContent(), 'Night Drive')
      await page.screenshot({ path: join(SCREENSHOTS, 'ui-playing.png') })
    })

    it('shows the node status and the peers page', async () => {
      await page.click('a[href="#/status"]')
      await page.waitForSelector('.cards')
      const peerId = node.peerId
      assert.ok(peerId)
      assert.equal(await page.locator('.details code').first().textContent(), peerId)
      const songsCard = page.locator('.card').filter({ hasText: 'Songs' }).locator('.card-value')
      await waitFor(
        async () => (await songsCard.textContent()) === '7',
        'the count of six demo tracks and the added one',
      )
      await page.screenshot({ path: join(SCREENSHOTS, 'ui-status.png') })
    })

    it('lists a second node that joins, as connected with its RTT', async () => {
      await page.click('a[href="#/peers"]')
      await page.waitForSelector('h1:text("Peers")')
      const address = node.listenAddrs.find((a) => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(a))
      assert.ok(address, 'the first node printed a TCP address')
      // Shares the first node's demo folder, so it starts without rendering the demo again.
      other = await startNode(['--bootstrap', address, '--library', join(dataDir, 'demo-library')], {
        dataDir: join(dataDir, 'second'),
      })
      const otherId = other.peerId
      const row = page.locator('table.peers tbody tr').filter({ hasText: otherId.slice(-6) })
      // The row appears from the peer:connected event; the RTT from the next poll after a ping.
      await waitFor(async () => (await row.count()) === 1, 'the second node in the peers table', {
        timeoutMs: 60_000,
      })
      await waitFor(async () => /connected/.test((await row.textContent()) ?? ''), 'the peer shown connected')
      await waitFor(async () => /\d+\.\d ms/.test((await row.textContent()) ?? ''), 'an RTT', {
        timeoutMs: 30_000,
      })
      assert.equal(await row.locator('td').first().getAttribute('title'), otherId)
      await page.screenshot({ path: join(SCREENSHOTS, 'ui-peers.png') })
      assert.deepEqual(pageErrors, [], 'no uncaught errors in the page')
    })

    it('without a token, shows how to get the link instead of data', async () => {
      const fresh = await browser.newPage()
      await fresh.goto(node.webUrl.replace(/#.*$/, ''))
      await fresh.waitForSelector('.gate-card')
      assert.match((await fresh.textContent('.gate-card')) ?? '', /tutti start/)
      await fresh.close()
    })
  })

// Without Chromium the run reports a skipped test with the reason, never a pass.
if (browserSkipReason === undefined) browserSuite()
else it('web UI in Chromium', (t) => t.skip(browserSkipReason))
