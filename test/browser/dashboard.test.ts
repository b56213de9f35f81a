import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Cloud } from '@fogline/cloud'
import type { FogNode } from '@fogline/node'
import { type Simulators, startSimulators } from '@fogline/simulators'
import { type TempDir, tempDir, waitFor } from '@fogline/testkit'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testCloud, testNode, windowPipeline } from '../fleet.js'

const CHROMIUM = '/usr/bin/chromium'
const hasChromium = existsSync(CHROMIUM)
if (process.env.CI && !hasChromium) throw new Error(`${CHROMIUM} is missing: run .ci/install-deps.sh`)
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..')
const artifacts = join(repoRoot, 'test-artifacts')
// FOGLINE_UPDATE_DOCS=1 also refreshes the README's screenshots (kept out of normal runs so tests leave git clean)
const updateDocs = process.env['FOGLINE_UPDATE_DOCS'] === '1'

/** Poll `cond` until it holds; real time is unavoidable with a browser, so poll with a deadline. */
const until = <T>(cond: () => T | Promise<T>, what: string, ms = 20_000) => waitFor(cond, what, ms, 100)

interface ChartRow {
  seq: number
  end: number
  min: number
  max: number
  mean: number
}

describe.skipIf(!hasChromium)(
  `dashboard in chromium${hasChromium ? '' : ' (skipped: /usr/bin/chromium is missing)'}`,
  () => {
    let dir: TempDir | undefined
    let cloud: Cloud
    const nodes = new Map<string, FogNode>()
    const sims: Simulators[] = []
    let browser: Browser
    let page: Page
    const consoleErrors: string[] = []
    const tokens = { viewer: '', operator: '' }

    /** Sign in on `p` with a token through the page's own form. */
    async function signIn(p: Page, token: string) {
      await p.goto(cloud.httpUrl)
      await p.locator('#signin').waitFor()
      await p.fill('#token', token)
      await p.click('#signin-btn')
      await p.locator('#fleet-view').waitFor()
    }

    beforeAll(async () => {
      dir = tempDir('fogline-browser-')
      mkdirSync(artifacts, { recursive: true })
      // the cloud serves public/; make sure the uPlot copy the package build makes is there (see docs/dashboard.md)
      execFileSync(process.execPath, [join(repoRoot, 'packages/dashboard/scripts/copy-vendor.mjs')])
      // the suite's afterAll stops what beforeAll started
      const stopWith = () => {}
      cloud = await testCloud(dir.path, {
        stopWith,
        options: {
          demo: {
            setLink: async (nodeId, up) => {
              const n = nodes.get(nodeId)
              if (!n) return
              if (up) n.uplink.resume()
              else n.uplink.pause()
            },
          },
        },
      })
      for (const id of ['node-a', 'node-b']) {
        const node = await testNode(
          dir.path,
          id,
          cloud.brokerUrl,
          {
            uplink: { heartbeat: '300ms', ackTimeout: '1s', reconnect: { min: '100ms', max: '300ms' } },
            pipelines: [windowPipeline('500ms')],
          },
          { stopWith },
        )
        nodes.set(id, node)
        sims.push(
          await startSimulators({
            url: node.brokerUrl,
            sensors: [{ id: `${id}-t`, count: 2, rate: 20, profile: 'temperature', period: '10s' }],
          }),
        )
      }
      tokens.viewer = (await cloud.tokens.create({ name: 'browser-viewer', role: 'viewer' })).token
      tokens.operator = (await cloud.tokens.create({ name: 'browser-operator', role: 'operator' })).token
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-quic',
          '--no-first-run',
          '--disable-component-update',
          '--disable-sync',
        ],
      })
      page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
      page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()))
      page.on('pageerror', (e) => consoleErrors.push(e.message))
    })

    afterAll(async () => {
      await browser?.close()
      for (const s of sims) await s.stop()
      for (const n of nodes.values()) await n.stop()
      await cloud?.stop()
      dir?.remove()
    })

    it('asks for sign-in first: no fleet data without a token, a wrong token is refused', async () => {
      const p = await browser.newPage()
      try {
        await p.goto(cloud.httpUrl)
        await p.locator('#signin').waitFor()
        expect(await p.locator('#fleet-view').isHidden()).toBe(true)
        expect(await p.locator('#fleet tbody tr').count()).toBe(0)
        await p.fill('#token', `fog_${'x'.repeat(43)}`)
        await p.click('#signin-btn')
        await p.waitForFunction(() => document.querySelector('#signin-error')?.textContent !== '')
        expect(await p.locator('#signin-error').textContent()).toContain('refused')
        expect(await p.locator('#fleet-view').isHidden()).toBe(true)
        // the API itself says why: no token → 401 FOG_AUTH_REQUIRED
        const res = await p.evaluate(async () => {
          const r = await fetch('/api/nodes')
          return { status: r.status, code: (await r.json()).error.code }
        })
        expect(res).toEqual({ status: 401, code: 'FOG_AUTH_REQUIRED' })
      } finally {
        await p.close()
      }
    })

    it('a viewer sees the fleet but not the cut-uplink control', async () => {
      const p = await browser.newPage()
      try {
        await signIn(p, tokens.viewer)
        await p.waitForSelector('#fleet tr[data-node="node-a"]', { timeout: 15_000 })
        expect(await p.locator('#who').textContent()).toBe('browser-viewer (viewer)')
        expect(await p.locator('#fleet button.link').count()).toBe(0)
        await p.goto(`${cloud.httpUrl}/#/node/node-a`)
        await p.locator('#node-stats').waitFor()
        expect(await p.locator('#node-stats button.link').count()).toBe(0)
        // and the API refuses it too, should the button be forged into the page
        const res = await p.evaluate(async () => {
          const r = await fetch('/api/demo/nodes/node-a/link', {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${sessionStorage.getItem('fogline.token')}`,
            },
            body: '{"up":false}',
          })
          return { status: r.status, code: (await r.json()).error.code }
        })
        expect(res).toEqual({ status: 403, code: 'FOG_FORBIDDEN' })
      } finally {
        await p.close()
      }
    })

    it('an operator sees the cut-uplink control; the token stays in sessionStorage only', async () => {
      await signIn(page, tokens.operator)
      await page.waitForSelector('#fleet tr[data-node="node-a"] button.link', { timeout: 15_000 })
      expect(await page.locator('#who').textContent()).toBe('browser-operator (operator)')
      const stored = await page.evaluate(() => ({
        session: sessionStorage.getItem('fogline.token'),
        local: localStorage.length,
        cookie: document.cookie,
      }))
      expect(stored).toEqual({ session: tokens.operator, local: 0, cookie: '' })
    })

    it('loads the fleet table with every node online', async () => {
      await page.goto(cloud.httpUrl)
      await page.waitForSelector('#fleet tr[data-node="node-a"][data-online="true"]', { timeout: 15_000 })
      await page.waitForSelector('#fleet tr[data-node="node-b"][data-online="true"]', { timeout: 15_000 })
      expect(await page.locator('#fleet tbody tr').count()).toBe(2)
      await page.screenshot({ path: join(artifacts, 'fleet.png') })
      if (updateDocs) await page.screenshot({ path: join(repoRoot, 'docs/dashboard-fleet.png') })
      // a phone: the page itself must not scroll sideways (the table scrolls inside its box)
      await page.setViewportSize({ width: 390, height: 844 })
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
      await page.screenshot({ path: join(artifacts, 'fleet-phone.png') })
      await page.setViewportSize({ width: 1280, height: 800 })
    })

    it('draws chart points that match the store', async () => {
      await page.goto(`${cloud.httpUrl}/#/node/node-a`)
      const key = 'node-a-t-0/temperature'
      await page.waitForFunction(
        (k) =>
          Number(document.querySelector(`.chart[data-key="${k}"]`)?.getAttribute('data-points') ?? 0) >= 6,
        key,
        { timeout: 15_000 },
      )
      const drawn =
        (await page.evaluate(
          (k) =>
            (window as never as { __fogline: { charts(): Record<string, ChartRow[]> } }).__fogline.charts()[
              k
            ],
          key,
        )) ?? []
      const res = await fetch(
        `${cloud.httpUrl}/api/summaries?node=node-a&sensor=node-a-t-0&metric=temperature&limit=5000`,
        { headers: { authorization: `Bearer ${tokens.viewer}` } },
      )
      const stored = (await res.json()) as ChartRow[]
      const bySeq = new Map(stored.map((r) => [r.seq, r]))
      expect(drawn.length).toBeGreaterThanOrEqual(6)
      // uPlot really drew it (not just the data behind it)
      expect(await page.locator(`.chart[data-key="${key}"] canvas`).count()).toBe(1)
      for (const p of drawn) {
        const s = bySeq.get(p.seq)
        expect(s, `point seq ${p.seq} is in the store`).toBeDefined()
        expect(p.mean).toBe(s?.mean)
        expect(p.min).toBe(s?.min)
        expect(p.max).toBe(s?.max)
      }
      await page.screenshot({ path: join(artifacts, 'node.png') })
      if (updateDocs) await page.screenshot({ path: join(repoRoot, 'docs/dashboard.png') })
    })

    it('shows the backlog rising while the uplink is cut and draining to zero after restore', async () => {
      await page.goto(cloud.httpUrl)
      const row = page.locator('#fleet tr[data-node="node-b"]')
      await row.waitFor()
      await row.locator('button.link').click()
      await until(() => (nodes.get('node-b')?.stats().backlogRecords ?? 0) >= 3, 'node-b buffers while cut')
      await page.screenshot({ path: join(artifacts, 'cut.png') })
      // every backlog the page renders for node-b is recorded in the page: after the restore the backlog can
      // drain within one 300 ms heartbeat, shorter than a poll from here can be relied on to see under load
      await page.evaluate(() => {
        const seen: number[] = []
        ;(window as never as { __backlogSeen: number[] }).__backlogSeen = seen
        const read = () => {
          const tr = document.querySelector('#fleet tr[data-node="node-b"]')
          if (tr) seen.push(Number(tr.getAttribute('data-backlog')))
        }
        new MutationObserver(read).observe(document.body, {
          subtree: true,
          childList: true,
          attributes: true,
          attributeFilter: ['data-backlog'],
        })
        read()
      })
      await page.locator('#fleet tr[data-node="node-b"] button.link').click()
      const shown = () => page.evaluate(() => (window as never as { __backlogSeen: number[] }).__backlogSeen)
      await until(
        async () => {
          const seen = await shown()
          return Math.max(0, ...seen) > 0 && seen[seen.length - 1] === 0
        },
        'the page shows node-b backlog rising then draining to 0',
        20_000,
      )
      expect(Math.max(0, ...(await shown()))).toBeGreaterThan(0)
      await page.screenshot({ path: join(artifacts, 'restored.png') })
    })

    it('logs no console errors', () => {
      expect(consoleErrors).toEqual([])
    })
  },
)
