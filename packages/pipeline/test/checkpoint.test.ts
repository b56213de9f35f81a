import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { harness } from './helpers.js'

// every stateful stage in one pipeline, plus an event-time window with corrections
const pipelines = [
  {
    id: 'all',
    input: ['s/+/+'],
    decoder: { ts: '$.ts' },
    stages: [
      { type: 'downsample', every: 2 },
      { type: 'deadband', absolute: 0.5, maxSilence: '20s' },
      { type: 'threshold', name: 'hi', above: 5, hysteresis: 1, hold: '2s' },
      { type: 'swinging-door', deviation: 0.3 },
      {
        type: 'window',
        kind: 'hopping',
        size: '20s',
        hop: '10s',
        aggregates: ['count', 'sum', 'stddev', 'rate', 'p50', 'p99', 'first', 'last'],
      },
    ],
    output: [{ stream: 'summary' }, { stream: 'event' }, { stream: 'raw' }],
  },
  {
    id: 'late',
    input: ['s/+/+'],
    decoder: { ts: '$.ts' },
    stages: [
      {
        type: 'window',
        size: '10s',
        time: 'event',
        watermark: '3s',
        allowedLateness: '10s',
        corrections: true,
        aggregates: ['p90'],
      },
    ],
  },
]

const reading = fc.record({
  sensor: fc.constantFrom('a', 'b', 'c'),
  value: fc.double({ min: -10, max: 10, noNaN: true }),
  dt: fc.integer({ min: -4000, max: 3000 }),
})

describe('checkpoint', () => {
  it('an engine restored from a JSON snapshot behaves exactly like the one that was never stopped', () => {
    fc.assert(
      fc.property(
        fc.array(reading, { maxLength: 60 }),
        fc.array(reading, { maxLength: 60 }),
        (before, after) => {
          const a = harness(pipelines, 1_000_000)
          let t = 1_000_000
          const feed = (h: typeof a, rs: typeof before, t0: number) => {
            let tt = t0
            for (const r of rs) {
              tt += Math.abs(r.dt)
              h.clock.set(tt)
              h.send(`s/${r.sensor}/v`, { value: r.value, ts: tt + r.dt })
              if (r.dt % 7 === 0) h.engine.tick(tt)
            }
            return tt
          }
          t = feed(a, before, t)
          const saved = JSON.stringify(a.engine.snapshot())
          const mark = a.outputs.length
          const b = harness(pipelines, t)
          b.engine.restore(JSON.parse(saved))
          expect(JSON.stringify(b.engine.snapshot())).toBe(saved)
          const end = feed(a, after, t)
          feed(b, after, t)
          a.engine.tick(end + 60_000)
          b.engine.tick(end + 60_000)
          expect(b.outputs).toEqual(a.outputs.slice(mark))
        },
      ),
      { numRuns: 100 },
    )
  })
})
