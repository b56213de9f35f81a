import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compileCron, cronTrigger } from '@fogline/node'
import { waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'

/**
 * compileCron without a time zone finds the next match with local-time Date getters instead of node-cron's
 * Intl-based matcher (Intl.DateTimeFormat maps ICU's data into the process: 7–9 MiB of RSS). Oracle: node-cron.
 */
const EXPRS = [
  '17 3 * * *',
  '0 1 * * *',
  '*/15 22-23 * * 1-5',
  '0 0 1 * *',
  '30 12 29 2 *',
  '0 6 * * 0',
  '0 6 * * 7',
  '5,35 */2 1-10 jan,jul mon-fri',
  '0 0 31 * *',
  '* * * * *',
  '30 2 * * *',
  '0 2,3 * * *',
]
const ORACLE = join(dirname(fileURLToPath(import.meta.url)), 'cron-oracle.ts')

describe('compileCron without a time zone (local time, no Intl)', () => {
  for (const tz of ['Etc/UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe'])
    it(`gives node-cron's next match for ${EXPRS.length} expressions x 66 times (TZ=${tz}, DST changes included)`, () => {
      const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', ORACLE, ...EXPRS], {
        env: { ...process.env, TZ: tz },
        encoding: 'utf8',
      })
      const m = /checked (\d+) repeated-hour (\d+) mismatches (.*)/.exec(r.stdout)
      expect(m, r.stderr).not.toBeNull()
      expect(Number(m![1])).toBe(EXPRS.length * 66)
      expect(JSON.parse(m![3]!)).toEqual([])
      // in the hour a DST change repeats, a slot matches twice on the wall clock: this matcher takes the first
      // (as the Date constructor does), node-cron the second; docs/decisions.md
      if (tz === 'Europe/Berlin') expect(Number(m![2])).toBeGreaterThan(0)
    })

  it('reads no time through Intl.DateTimeFormat (a time zone given still does)', () => {
    const proto = Intl.DateTimeFormat.prototype
    const original = proto.formatToParts
    let calls = 0
    proto.formatToParts = function (this: Intl.DateTimeFormat, d?: Date | number) {
      calls++
      return original.call(this, d)
    }
    onTestFinished(() => {
      proto.formatToParts = original
    })
    const local = compileCron('17 3 * * *')
    onTestFinished(() => local.close())
    local.next(Date.now())
    expect(calls).toBe(0)
    const zoned = compileCron('17 3 * * *', 'Europe/Berlin')
    onTestFinished(() => zoned.close())
    zoned.next(Date.now())
    expect(calls).toBeGreaterThan(0)
  })

  it('cronTrigger calls back at the next match on real time (every second here)', async () => {
    const c = compileCron('* * * * * *')
    let fired = 0
    const t = cronTrigger(c, () => fired++)
    onTestFinished(() => {
      t.stop()
      c.close()
    })
    await waitFor(() => fired >= 2, 'two triggers', 5000)
    t.stop()
    const n = fired
    await waitFor(() => true, 'a turn')
    expect(fired).toBe(n)
  })
})
