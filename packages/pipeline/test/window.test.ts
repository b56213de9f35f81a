import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { harness } from './helpers.js'

const ALL = [
  'count',
  'min',
  'max',
  'mean',
  'sum',
  'stddev',
  'variance',
  'first',
  'last',
  'rate',
  'p50',
  'p90',
  'p95',
  'p99',
]
const ALPHA = 0.01

function win(extra: Record<string, unknown>, decoder: Record<string, unknown> = { ts: '$.ts' }) {
  return [{ id: 'w', input: ['s/+/+'], decoder, stages: [{ type: 'window', ...extra }] }]
}

/** the naive reference: everything from a sorted copy and two passes */
function reference(vals: number[], ts: number[]) {
  const n = vals.length
  let sum = 0
  for (const v of vals) sum += v
  const mean = sum / n
  let ss = 0
  for (const v of vals) ss += (v - mean) ** 2
  const sorted = [...vals].sort((a, b) => a - b)
  const q = (p: number) => sorted[Math.floor(p * (n - 1))]!
  const dt = ts[n - 1]! - ts[0]!
  return {
    count: n,
    sum,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    mean,
    variance: ss / n,
    stddev: Math.sqrt(ss / n),
    first: vals[0]!,
    last: vals[n - 1]!,
    rate: dt > 0 ? ((vals[n - 1]! - vals[0]!) * 1000) / dt : 0,
    p50: q(0.5),
    p90: q(0.9),
    p95: q(0.95),
    p99: q(0.99),
  }
}

describe('window aggregates (property-based, against a naive reference)', () => {
  it('match exactly for count/sum/min/max/mean/first/last, within float tolerance for variance/stddev/rate, within α for percentiles', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.double({ min: -1e4, max: 1e4, noNaN: true, noDefaultInfinity: true }),
            fc.integer({ min: 0, max: 29_999 }),
          ),
          {
            minLength: 1,
            maxLength: 200,
          },
        ),
        (pts) => {
          const h = harness(win({ kind: 'tumbling', size: '10s', aggregates: ALL, accuracy: ALPHA }, {}), 0)
          // arrival times ascending; window = floor(t / 10 s)
          const sorted = [...pts].sort((a, b) => a[1] - b[1])
          for (const [v, t] of sorted) {
            h.clock.set(t)
            h.send('s/a/t', v)
          }
          h.engine.tick(40_000)
          const got = h.bodies()
          const groups = new Map<number, Array<[number, number]>>()
          for (const [v, t] of sorted)
            groups.set(Math.floor(t / 10_000), [...(groups.get(Math.floor(t / 10_000)) ?? []), [v, t]])
          expect(got).toHaveLength(groups.size)
          for (const s of got) {
            const g = groups.get(s.start / 10_000)!
            const ref = reference(
              g.map((x) => x[0]),
              g.map((x) => x[1]),
            )
            expect(s.end - s.start).toBe(10_000)
            // === rather than Object.is: -0 and 0 are the same reading
            for (const k of ['count', 'sum', 'min', 'max', 'mean'] as const)
              expect(s[k] === ref[k], k).toBe(true)
            expect(s.aggs.first === ref.first && s.aggs.last === ref.last).toBe(true)
            const scale = Math.max(1, Math.abs(ref.max), Math.abs(ref.min))
            expect(Math.abs(s.aggs.variance - ref.variance)).toBeLessThanOrEqual(1e-9 * scale * scale)
            expect(Math.abs(s.aggs.stddev - ref.stddev)).toBeLessThanOrEqual(1e-6 * scale)
            expect(Math.abs(s.aggs.rate - ref.rate)).toBeLessThanOrEqual(
              1e-9 * Math.max(1, Math.abs(ref.rate)),
            )
            for (const p of ['p50', 'p90', 'p95', 'p99'] as const) {
              const x = ref[p]
              // the stated DDSketch bound: |x̂ − x| ≤ α·|x| (values below 1e-9 in magnitude count as 0)
              expect(Math.abs(s.aggs[p] - x)).toBeLessThanOrEqual(ALPHA * Math.abs(x) * (1 + 1e-9) + 1e-9)
            }
          }
        },
      ),
      { numRuns: 150 },
    )
  })

  it('percentiles of a large skewed sample stay within the stated relative error', () => {
    const h = harness(
      win({ kind: 'count', count: 20_000, aggregates: ['p50', 'p90', 'p95', 'p99'], accuracy: 0.02 }),
      0,
    )
    const vals: number[] = []
    let x = 12345
    for (let i = 0; i < 20_000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31
      const v = Math.exp((x / 2 ** 31) * 12) // log-uniform over 5 decades
      vals.push(v)
      h.send('s/a/t', { value: v, ts: i })
    }
    const [s] = h.bodies()
    const sorted = vals.sort((a, b) => a - b)
    for (const [p, q] of [
      ['p50', 0.5],
      ['p90', 0.9],
      ['p95', 0.95],
      ['p99', 0.99],
    ] as const) {
      const ref = sorted[Math.floor(q * (sorted.length - 1))]!
      expect(Math.abs(s.aggs[p] - ref) / ref).toBeLessThanOrEqual(0.02 * (1 + 1e-9))
    }
  })

  it('round-trips a snapshot with sketch state exactly through JSON', () => {
    const h = harness(win({ kind: 'tumbling', size: '1m', aggregates: ALL }), 0)
    for (let i = 0; i < 500; i++) h.send(`s/s${i % 7}/t`, { value: Math.sin(i) * 100 - 3, ts: i })
    const snap = h.engine.snapshot()
    const json = JSON.stringify(snap)
    const h2 = harness(win({ kind: 'tumbling', size: '1m', aggregates: ALL }), 0)
    h2.engine.restore(JSON.parse(json))
    expect(JSON.stringify(h2.engine.snapshot())).toBe(json)
    h.engine.tick(60_000)
    h2.engine.tick(60_000)
    expect(h2.bodies()).toEqual(h.bodies())
    expect(h2.bodies()).toHaveLength(7)
  })
})

describe('window checkpoints', () => {
  it('restores a window row as earlier versions wrote it: [start, end, emitted, dirty, [10 running values]]', () => {
    const stages = {
      kind: 'tumbling',
      size: '1m',
      aggregates: ['count', 'sum', 'stddev', 'first', 'last', 'rate'],
    }
    const snap = harness(win(stages), 0).engine.snapshot() as {
      pipelines: Record<string, { stages: unknown[] }>
    }
    // readings 1, 2 and 4 at 1 s, 2 s and 3 s: count, sum, min, max, Welford mean and m2, first, last, their ts
    const row = [0, 60_000, 0, 0, [3, 7, 1, 4, 7 / 3, 14 / 3, 1, 4, 1000, 3000]]
    snap.pipelines['w']!.stages[0] = { wm: null, la: 0, groups: [[['a', 't'], 'a', 't', [row]]] }
    const h = harness(win(stages), 0)
    h.engine.restore(snap)
    h.clock.set(5000)
    h.send('s/a/t', 6)
    h.engine.tick(60_000)
    const [s] = h.bodies()
    expect(s).toMatchObject({
      sensorId: 'a',
      metric: 't',
      start: 0,
      end: 60_000,
      count: 4,
      sum: 13,
      min: 1,
      max: 6,
    })
    expect(s.aggs.first).toBe(1)
    expect(s.aggs.last).toBe(6)
    expect(s.aggs.rate).toBeCloseTo(((6 - 1) * 1000) / (5000 - 1000), 12)
    // population stddev of 1, 2, 4, 6
    expect(s.aggs.stddev).toBeCloseTo(Math.sqrt(14.75 / 4), 12)
  })
})

describe('window kinds', () => {
  it('hopping windows: each reading counts in size/hop overlapping windows', () => {
    const h = harness(win({ kind: 'hopping', size: '10s', hop: '5s' }, {}), 0)
    for (const t of [1000, 6000, 11_000]) {
      h.clock.set(t)
      h.send('s/a/t', t / 1000)
    }
    h.engine.tick(30_000)
    expect(h.bodies().map((s) => [s.start, s.end, s.count, s.sum])).toEqual([
      [-5000, 5000, 1, 1],
      [0, 10_000, 2, 7],
      [5000, 15_000, 2, 17],
      [10_000, 20_000, 1, 11],
    ])
  })

  it('session windows close after a gap without readings', () => {
    const h = harness(win({ kind: 'session', gap: '2s' }, {}), 0)
    for (const t of [0, 1000, 2500, 10_000]) {
      h.clock.set(t)
      h.send('s/a/t', 1)
    }
    expect(h.bodies().map((s) => [s.start, s.end, s.count])).toEqual([[0, 4500, 3]])
    h.engine.tick(11_999)
    expect(h.bodies()).toHaveLength(1)
    h.engine.tick(12_000)
    expect(h.bodies().map((s) => [s.start, s.end, s.count])).toEqual([
      [0, 4500, 3],
      [10_000, 12_000, 1],
    ])
  })

  it('count windows close at n readings', () => {
    const h = harness(win({ kind: 'count', count: 3, time: 'event' }), 0)
    for (let i = 1; i <= 7; i++) h.send('s/a/t', { value: i, ts: i * 10 })
    expect(h.bodies().map((s) => [s.start, s.end, s.sum])).toEqual([
      [10, 31, 6],
      [40, 61, 15],
    ])
  })

  it('groups by a payload field instead of the sensor', () => {
    const h = harness(
      win({ kind: 'tumbling', size: '1s', groupBy: ['fields.line'] }, { fields: { line: '$.line' } }),
      0,
    )
    h.send('s/a/t', { value: 1, line: 'L1' })
    h.send('s/b/t', { value: 2, line: 'L1' })
    h.send('s/c/t', { value: 5, line: 'L2' })
    h.engine.tick(1000)
    expect(h.bodies().map((s) => [s.sensorId, s.metric, s.count, s.sum])).toEqual([
      ['L1', '*', 2, 3],
      ['L2', '*', 1, 5],
    ])
  })

  it('caps open groups and dead-letters readings beyond the cap', () => {
    const h = harness(win({ kind: 'tumbling', size: '1s', maxGroups: 2 }), 0)
    for (const s of ['a', 'b', 'c']) h.send(`s/${s}/t`, 1)
    expect(h.dead).toHaveLength(1)
    expect(h.dead[0]).toMatchObject({ stage: '0:window', topic: 's/c/t' })
  })
})

describe('event time', () => {
  const cfg = {
    kind: 'tumbling',
    size: '10s',
    time: 'event',
    watermark: '2s',
    allowedLateness: '5s',
    corrections: true,
  }

  it('assigns out-of-order readings by their own ts, closes by watermark, corrects late ones, and counts too-late ones', () => {
    const h = harness(win(cfg), 0)
    const send = (ts: number, value: number) => h.send('s/a/t', { value, ts })
    send(1000, 1)
    send(9000, 9)
    send(4000, 4) // out of order, same window
    send(11_000, 11) // watermark 9000: [0,10s) still open
    expect(h.bodies()).toHaveLength(0)
    send(8000, 8) // out of order but before the watermark passes the end: counted normally
    send(12_500, 12) // watermark 10_500 → [0,10s) closes
    expect(h.bodies()).toEqual([expect.objectContaining({ start: 0, end: 10_000, count: 4, sum: 22 })])
    send(3000, 3) // late, within allowed lateness (watermark 10_500 < 10_000 + 5000): a correction
    expect(h.bodies()).toEqual([
      expect.objectContaining({ start: 0, end: 10_000, count: 4, sum: 22 }),
      expect.objectContaining({ start: 0, end: 10_000, count: 5, sum: 25, correction: true }),
    ])
    send(17_500, 17) // watermark 15_500: [0,10s) is gone for good
    send(2000, 2) // too late: counted, not emitted
    const c = h.engine.counters().w!.stages['0:window']!
    expect(c.late).toBe(2)
    expect(h.bodies().filter((s) => s.start === 0)).toHaveLength(2)
    send(40_000, 0) // watermark 38s closes [10s,20s)
    expect(h.bodies().at(-1)).toMatchObject({ start: 10_000, end: 20_000, count: 3, sum: 40 })
    expect(h.bodies().at(-1).correction).toBeUndefined()
  })

  it('without corrections, late readings are only counted', () => {
    const h = harness(win({ ...cfg, corrections: false }), 0)
    for (const [ts, v] of [
      [1000, 1],
      [13_000, 13],
      [2000, 2],
    ])
      h.send('s/a/t', { value: v, ts })
    expect(h.bodies()).toEqual([expect.objectContaining({ start: 0, count: 1, sum: 1 })])
    expect(h.engine.counters().w!.stages['0:window']!.late).toBe(1)
  })

  it('with idle set, the watermark moves on with the clock when readings stop', () => {
    const h = harness(
      win({ kind: 'tumbling', size: '10s', time: 'event', watermark: '2s', idle: '5s' }),
      100_000,
    )
    h.send('s/a/t', { value: 1, ts: 3000 })
    h.engine.tick(104_000)
    expect(h.bodies()).toHaveLength(0)
    h.engine.tick(105_000 + 8999) // watermark 1000 + 8999 < 10_000
    expect(h.bodies()).toHaveLength(0)
    h.engine.tick(105_000 + 9000)
    expect(h.bodies()).toEqual([expect.objectContaining({ start: 0, end: 10_000, count: 1 })])
  })
})
