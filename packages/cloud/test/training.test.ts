import { fakeClock } from '@fogline/testkit'
import { describe, expect, it } from 'vitest'
import { better, cleanWindows, fitClass, judge } from '../src/models/fit.js'
import { cronOnClock } from '../src/models/schedule.js'
import type { EventRow, SummaryRow } from '../src/store/index.js'

const T0 = 1_700_000_000_000
const MIN = 60_000

/** deterministic Gaussian noise (Box-Muller on a fixed LCG) */
function noise(seed: number): () => number {
  let s = seed
  const u = () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31
    return (s + 1) / (2 ** 31 + 1)
  }
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u())
}

/** one-minute windows of 60 readings of N(mean, std), summarised as the node's window stage does */
function summaries(
  sensorId: string,
  mean: number,
  std: number,
  minutes: number,
  shift?: number,
): SummaryRow[] {
  const z = noise(sensorId.length * 7 + Math.round(mean))
  return Array.from({ length: minutes }, (_, m) => {
    const xs = Array.from({ length: 60 }, () => mean + std * z() + (m === shift ? 4 * std : 0))
    const mu = xs.reduce((a, b) => a + b, 0) / xs.length
    const v = xs.reduce((a, b) => a + (b - mu) ** 2, 0) / xs.length
    return {
      nodeId: 'n',
      stream: 'summary' as const,
      seq: m,
      pipelineId: 'p',
      sensorId,
      metric: 'pressure',
      start: T0 + m * MIN,
      end: T0 + (m + 1) * MIN,
      count: 60,
      min: Math.min(...xs),
      max: Math.max(...xs),
      mean: mu,
      sum: mu * 60,
      aggs: { stddev: Math.sqrt(v) },
    }
  })
}

const event = (sensorId: string, ts: number): EventRow => ({
  nodeId: 'n',
  stream: 'event',
  seq: 1,
  pipelineId: 'p',
  sensorId,
  metric: 'pressure',
  ts,
  kind: 'anomaly',
  name: 'anomaly',
  value: 0,
  severity: 'warning',
  detail: null,
})

describe('cloud training: fit, judge, decide', () => {
  it('leaves out windows inside anomaly events, level shifts and windows without a spread aggregate', () => {
    const rows = summaries('a', 50, 1, 40, 10)
    rows[20]!.aggs = null
    const { wins, dropped } = cleanWindows(rows, [event('a', T0 + 30 * MIN + 5)])
    expect(dropped).toBe(3)
    expect(wins.map((w) => w.start)).not.toContain(T0 + 10 * MIN)
    expect(wins.map((w) => w.start)).not.toContain(T0 + 30 * MIN)
  })

  it('fits each sensor and the class (what a new sensor starts from), with k from the clean windows (at least 4)', () => {
    const wins = cleanWindows([...summaries('a', 50, 1, 60), ...summaries('b', 52, 2, 60)], []).wins
    const m = fitClass(wins, { version: 3, trainedAt: T0 })!
    expect(m.sensors.a!.mean).toBeCloseTo(50, 0)
    expect(m.sensors.a!.std).toBeCloseTo(1, 0)
    expect(m.sensors.b!.std).toBeCloseTo(2, 0)
    // the class pools both sensors: its spread includes the 2-unit gap between their levels
    expect(m.mean).toBeCloseTo(51, 0)
    expect(m.std!).toBeGreaterThan(1.6)
    expect(m.k).toBeGreaterThanOrEqual(4)
    expect(m).toMatchObject({ kind: 'gaussian', version: 3, trainedAt: T0, threshold: 0.5 })
    expect(fitClass([], { version: 1, trainedAt: T0 })).toBeNull()
  })

  it('publishes a candidate only when it beats the current model on held-back data', () => {
    const held = cleanWindows(summaries('a', 55, 1, 20), []).wins
    const fresh = fitClass(cleanWindows(summaries('a', 55, 1, 60), []).wins, { version: 2, trainedAt: T0 })!
    const stale = fitClass(cleanWindows(summaries('a', 50, 1, 60), []).wins, { version: 1, trainedAt: T0 })!
    const cj = judge(fresh, held)
    expect(cj.flagRate).toBe(0)
    // the level moved from 50 to 55: the stale model flags every held-back window and fits worse
    expect(judge(stale, held).flagRate).toBe(1)
    expect(better(cj, judge(stale, held)).ok).toBe(true)
    // the same model against itself is not better (no churn of versions)
    expect(better(cj, cj).ok).toBe(false)
    // a model learned on the node (context) cannot be judged from summaries: a calibrated candidate wins
    expect(judge({ kind: 'context' } as never, held).nll).toBeNull()
    expect(better(cj, judge(undefined, held)).ok).toBe(true)
    // a candidate that would flag the clean held-back data is never published
    expect(better(judge(stale, held), judge(undefined, held)).ok).toBe(false)
  })
})

describe('cloud training schedule', () => {
  it('runs at each cron slot on the cloud clock, once per slot, and not after it is stopped', async () => {
    const clock = fakeClock(Date.UTC(2026, 0, 1, 2, 50))
    let runs = 0
    const stop = cronOnClock('0 3 * * *', clock, async () => {
      runs++
    })
    await clock.advanceAsync(9 * MIN)
    expect(runs).toBe(0)
    await clock.advanceAsync(2 * MIN) // 03:01: the 03:00 slot has passed
    expect(runs).toBe(1)
    await clock.advanceAsync(60 * MIN)
    expect(runs).toBe(1)
    await clock.advanceAsync(24 * 60 * MIN)
    expect(runs).toBe(2)
    stop()
    await clock.advanceAsync(24 * 60 * MIN)
    expect(runs).toBe(2)
    expect(() => cronOnClock('every day', clock, async () => {})).toThrow(/cron/)
  })
})
