import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot, runCli, tempDir } from './helpers.js'

// `npm test` builds first; the demo runs from dist/ exactly as `npm start` does.
const built = existsSync(join(repoRoot, 'packages/cli/dist/bin.js'))

describe.skipIf(!built && !process.env.CI)(
  'npm start (fogline demo) — skipped only when dist/ is not built',
  () => {
    it('runs for 20 s and the cloud store then holds summaries from every node', async () => {
      const data = tempDir()
      const child = runCli(
        ['demo', '--duration', '20', '--data', data, '--http-port', '0', '--status-every', '5'],
        { built: true },
      )
      const code = await child.exited
      const out = child.out()
      expect(child.err()).not.toMatch(/error/i)
      expect(code).toBe(0)
      expect(out).toMatch(/dashboard: http:\/\/127\.0\.0\.1:\d+\//)
      expect(out).toMatch(/\[t=\s*\d+s\] node-a in=\d+/) // status lines
      for (const nodeId of ['node-a', 'node-b', 'node-c']) {
        const m = new RegExp(
          `${nodeId}: readings=(\\d+) summaries made=(\\d+) stored in cloud=(\\d+) backlog=(\\d+)`,
        ).exec(out)
        expect(m, `final line for ${nodeId} in:\n${out}`).not.toBeNull()
        const [, readings, made, stored, backlog] = m!.map(Number)
        expect(readings).toBeGreaterThan(100)
        expect(stored).toBeGreaterThan(0)
        expect(stored).toBe(made)
        expect(backlog).toBe(0)
      }
      expect(out).toMatch(/the dashboard was at http:\/\//)
    }, 90_000)
  },
)
