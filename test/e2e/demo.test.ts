import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot, runCli, tempDir } from './helpers.js'

// `npm test` builds first; the demo runs from dist/ exactly as `npm start` does.
const built = existsSync(join(repoRoot, 'packages/cli/dist/bin.js'))

describe.skipIf(!built && !process.env.CI)(
  'npm start (fogline demo) — skipped only when dist/ is not built',
  () => {
    it('runs for 30 s with node-b partitioned from 8 s to 18 s; then every summary and event of every node is in the store', async () => {
      const data = tempDir()
      const child = runCli(
        [
          'demo',
          '--duration',
          '30',
          '--partition',
          'node-b:8-18',
          '--data',
          data,
          '--http-port',
          '0',
          '--status-every',
          '2',
        ],
        { built: true },
      )
      const code = await child.exited
      const out = child.out()
      expect(child.err()).not.toMatch(/error/i)
      expect(code).toBe(0)
      expect(out).toMatch(/dashboard: http:\/\/127\.0\.0\.1:\d+\//)
      // every API route needs a token: the demo prints an admin one to sign in with
      expect(out).toMatch(/admin token \(sign in to the dashboard with it[^\n]*\n {2}fog_[A-Za-z0-9_-]{43}\n/)
      expect(out).toMatch(/\[t=\s*\d+s\] node-a in=\d+/) // status lines
      expect(out).toMatch(/partition: node-b uplink cut \(t=8s\)/)
      expect(out).toMatch(/partition: node-b uplink restored \(t=18s\)/)
      // while cut, node-b acks nothing and holds what it makes: its status lines marked OFFLINE keep one
      // `acked` and end with a backlog (how many summaries a window makes in 10 s depends on the machine's load)
      const offline = [
        ...out.matchAll(/node-b in=\d+ sum=(\d+) ev=(\d+) backlog=(\d+) sent=\d+ acked=(\d+) OFFLINE/g),
      ].map((m) => ({ made: Number(m[1]) + Number(m[2]), backlog: Number(m[3]), acked: Number(m[4]) }))
      expect(offline.length, out).toBeGreaterThanOrEqual(2)
      expect(new Set(offline.map((l) => l.acked)).size, out).toBe(1)
      const last = offline[offline.length - 1]!
      expect(last.made, out).toBeGreaterThan(last.acked)
      expect(last.backlog, out).toBeGreaterThan(0)
      for (const nodeId of ['node-a', 'node-b', 'node-c']) {
        const m = new RegExp(
          `${nodeId}: readings=(\\d+) summaries made=(\\d+) stored in cloud=(\\d+) backlog=(\\d+) events made=(\\d+) stored=(\\d+)`,
        ).exec(out)
        expect(m, `final line for ${nodeId} in:\n${out}`).not.toBeNull()
        const [, readings, made, stored, backlog, eventsMade, eventsStored] = m!.map(Number)
        expect(readings).toBeGreaterThan(100)
        expect(stored).toBeGreaterThan(0)
        expect(stored).toBe(made)
        expect(backlog).toBe(0)
        expect(eventsStored).toBe(eventsMade)
      }
      // the scenario's injected anomalies raise events on every node (vibration burst, fridge drift, CO2 spike)
      for (const nodeId of ['node-a', 'node-b', 'node-c'])
        expect(Number(new RegExp(`${nodeId}: .* events made=(\\d+)`).exec(out)?.[1])).toBeGreaterThan(0)
      expect(out).toMatch(/the dashboard was at http:\/\//)
    }, 90_000)
  },
)
