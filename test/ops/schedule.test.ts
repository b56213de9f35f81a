import { compileCron, createScheduler, createUploadGate, windowState } from '@fogline/node'
import { fakeClock } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'

const UTC = 'Etc/UTC'
const at = (iso: string) => Date.parse(iso)
const H = 3_600_000

describe('cron windows are a pure function of the time', () => {
  it('a nightly window 01:00-05:00 is open exactly inside it and says until when', () => {
    const w = [{ cron: compileCron('0 1 * * *', UTC), duration: 4 * H }]
    onTestFinished(() => w[0]!.cron.close())
    expect(windowState(w, at('2026-12-01T00:59:00Z'))).toEqual({
      open: false,
      until: at('2026-12-01T01:00:00Z'),
    })
    expect(windowState(w, at('2026-12-01T01:00:00Z'))).toEqual({
      open: true,
      until: at('2026-12-01T05:00:00Z'),
    })
    expect(windowState(w, at('2026-12-01T04:59:59Z'))).toEqual({
      open: true,
      until: at('2026-12-01T05:00:00Z'),
    })
    expect(windowState(w, at('2026-12-01T05:00:00Z'))).toEqual({
      open: false,
      until: at('2026-12-02T01:00:00Z'),
    })
  })

  it('the same answer whatever happened before (no state): asking out of order changes nothing', () => {
    const w = [{ cron: compileCron('*/15 22-23 * * 1-5', UTC), duration: 10 * 60_000 }]
    onTestFinished(() => w[0]!.cron.close())
    const times = [at('2026-12-01T22:05:00Z'), at('2026-12-01T22:12:00Z'), at('2026-12-05T22:05:00Z')] // Tue, Tue, Sat
    const forward = times.map((t) => windowState(w, t).open)
    const backward = [...times].reverse().map((t) => windowState(w, t).open)
    expect(forward).toEqual([true, false, false])
    expect(backward).toEqual([...forward].reverse())
  })
})

describe('upload gate', () => {
  const schedule = {
    windows: [{ cron: '0 1 * * *', duration: 4 * H, timezone: UTC }],
    bypass: ['event' as const, 'reported' as const],
    clockTrust: 'timesync' as const,
  }

  it('holds the backlog streams outside the window, lets bypass streams through, and opens on time', () => {
    const clock = fakeClock(at('2026-12-01T12:00:00Z'))
    const gate = createUploadGate(clock, schedule, () => true)
    onTestFinished(() => gate.close())
    expect([gate.allows('summary'), gate.allows('raw'), gate.allows('event')]).toEqual([false, false, true])
    expect(gate.state()).toEqual({
      scheduled: true,
      open: false,
      until: at('2026-12-02T01:00:00Z'),
      reason: null,
    })
    clock.set(at('2026-12-02T01:00:00Z'))
    expect(gate.allows('summary')).toBe(true)
    clock.set(at('2026-12-02T05:00:00Z'))
    expect(gate.allows('summary')).toBe(false)
  })

  it('until the clock is trusted, uploads go as if unscheduled and the state says why', () => {
    const clock = fakeClock(at('2026-12-01T12:00:00Z'))
    let synced = false
    const gate = createUploadGate(clock, schedule, () => synced)
    onTestFinished(() => gate.close())
    expect(gate.allows('summary')).toBe(true)
    expect(gate.state().reason).toMatch(/^FOG_CLOCK_UNTRUSTED: /)
    synced = true
    expect(gate.allows('summary')).toBe(false)
    expect(gate.state().reason).toBeNull()
  })
})

describe('scheduled jobs', () => {
  it('a skipped cron run is caught up once, at the next check, and not repeated', async () => {
    const clock = fakeClock(at('2026-12-01T02:00:00Z'))
    let runs = 0
    const s = createScheduler({
      clock,
      cronTriggers: false, // node-cron's real timers are not what is tested: the check on the clock is
      checkEvery: 60_000,
      jobs: [{ name: 'vacuum', cron: '0 3 * * *', timezone: UTC, run: () => ++runs }],
    })
    onTestFinished(() => s.close())
    expect(s.status()[0]!.nextRunAt).toBe(at('2026-12-01T03:00:00Z'))
    // the gateway slept through 03:00: no timer ran, no trigger came
    clock.set(at('2026-12-01T03:30:00Z'))
    expect(runs).toBe(0)
    await clock.advanceAsync(60_000) // the next check on the clock
    expect(runs).toBe(1)
    const st = s.status()[0]!
    expect(st).toMatchObject({
      runs: 1,
      caughtUp: 1,
      ok: true,
      result: 1,
      lastSlot: at('2026-12-01T03:00:00Z'),
    })
    expect(st.lastRunAt).toBe(at('2026-12-01T03:30:00Z')) // the overdue check runs on waking
    expect(st.nextRunAt).toBe(at('2026-12-02T03:00:00Z'))
    await clock.advanceAsync(2 * H) // more checks, same slot: nothing runs again
    expect(runs).toBe(1)
    await clock.advanceAsync(22 * H) // past 03:00 the next day, on time
    expect(runs).toBe(2)
    expect(s.status()[0]!.caughtUp).toBe(1)
  })

  it('after a restart, slots missed while the node was down are covered by one run (state survives)', async () => {
    const saved = new Map<string, unknown>()
    const state = { get: (k: string) => saved.get(k), put: (k: string, v: unknown) => void saved.set(k, v) }
    const clock = fakeClock(at('2026-12-01T02:00:00Z'))
    let runs = 0
    const job = { name: 'prune', cron: '0 3 * * *', timezone: UTC, run: () => ++runs }
    const a = createScheduler({ clock, state, cronTriggers: false, jobs: [job] })
    await clock.advanceAsync(2 * H)
    a.close()
    expect(runs).toBe(1)
    clock.set(at('2026-12-04T12:00:00Z')) // down for three slots
    const b = createScheduler({ clock, state, cronTriggers: false, jobs: [job] })
    onTestFinished(() => b.close())
    await b.check()
    await b.check()
    expect(runs).toBe(2)
    expect(b.status()[0]).toMatchObject({ lastSlot: at('2026-12-04T03:00:00Z'), caughtUp: 1 })
  })

  it('a failing job records its error and the next slot runs it again', async () => {
    const clock = fakeClock(at('2026-12-01T02:59:00Z'))
    let fail = true
    const s = createScheduler({
      clock,
      cronTriggers: false,
      jobs: [
        {
          name: 'x',
          cron: '0 3 * * *',
          timezone: UTC,
          run: () => {
            if (fail) throw new Error('disk busy')
          },
        },
      ],
    })
    onTestFinished(() => s.close())
    await clock.advanceAsync(2 * 60_000)
    expect(s.status()[0]).toMatchObject({ ok: false, error: 'disk busy', runs: 1 })
    fail = false
    await clock.advanceAsync(24 * H)
    expect(s.status()[0]).toMatchObject({ ok: true, error: null, runs: 2 })
  })
})
