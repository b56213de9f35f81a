import { describe, expect, it } from 'vitest'
import { harness } from './helpers.js'

/** one pipeline: the given stages, readings out on raw (plus whatever the stages emit) */
function pipe(stages: unknown[], extra: Record<string, unknown> = {}) {
  return harness(
    [
      {
        id: 'p',
        input: ['s/+/+'],
        decoder: { ts: '$.ts' },
        stages,
        output: [{ stream: 'raw' }, { stream: 'event' }, { stream: 'summary' }],
        ...extra,
      },
    ],
    0,
  )
}

const raw = (h: ReturnType<typeof pipe>) => h.bodies('raw').map((r) => r.value)

describe('validate', () => {
  it('dead-letters out-of-range, non-integer and incomplete readings with reasons and counts them as errors', () => {
    const h = harness(
      [
        {
          id: 'p',
          input: ['s/+/+'],
          decoder: { fields: { unit: '$.unit' } },
          stages: [
            {
              type: 'validate',
              min: 0,
              max: 100,
              integer: true,
              required: ['unit'],
              fieldTypes: { unit: 'string' },
            },
          ],
          output: { stream: 'raw' },
        },
      ],
      0,
    )
    for (const p of [
      { value: 5, unit: 'C' },
      { value: -1, unit: 'C' },
      { value: 101, unit: 'C' },
      { value: 1.5, unit: 'C' },
      { value: 7 },
      { value: 8, unit: 3 },
    ])
      h.send('s/a/t', p)
    expect(h.bodies('raw')).toEqual([{ sensorId: 'a', metric: 't', value: 5, ts: 0, fields: { unit: 'C' } }])
    expect(h.dead.map((d) => d.reason)).toEqual([
      'value -1 is outside [0, 100]',
      'value 101 is outside [0, 100]',
      'value 1.5 is not an integer',
      'field "unit" is missing',
      'field "unit" is number, not string',
    ])
    expect(h.dead.every((d) => d.code === 'FOG_READING_INVALID' && d.stage === '0:validate')).toBe(true)
    expect(h.engine.counters().p!.stages['0:validate']).toEqual({ in: 6, out: 1, dropped: 0, errors: 5 })
  })

  it('refuses readings from the future or too old, by arrival time', () => {
    const h = pipe([{ type: 'validate', maxFuture: '1s', maxAge: '1m' }])
    h.clock.set(100_000)
    h.send('s/a/t', { value: 1, ts: 100_500 })
    h.send('s/a/t', { value: 2, ts: 102_000 })
    h.send('s/a/t', { value: 3, ts: 30_000 })
    h.send('s/a/t', { value: 4, ts: 50_000 })
    expect(raw(h)).toEqual([1, 4])
  })
})

describe('filter', () => {
  it('keeps readings whose expression is truthy and counts the rest as dropped, not errors', () => {
    const h = pipe([{ type: 'filter', expr: 'value > 10 && sensorId != "b" || metric == "keep"' }])
    h.send('s/a/t', 5)
    h.send('s/a/t', 11)
    h.send('s/b/t', 12)
    h.send('s/b/keep', 1)
    expect(raw(h)).toEqual([11, 1])
    expect(h.engine.counters().p!.stages['0:filter']).toEqual({ in: 4, out: 2, dropped: 2, errors: 0 })
    expect(h.dead).toHaveLength(0)
  })
})

describe('map', () => {
  it('converts units, scales, computes value and fields, and renames', () => {
    const h = pipe([
      { type: 'map', convert: { from: '°F', to: '°C' } },
      {
        type: 'map',
        scale: 2,
        offset: 1,
        fields: { double: 'value * 2', hot: 'value > 50 ? "yes" : "no"' },
        rename: { metric: 'tempC2' },
      },
      { type: 'map', value: 'round(value)' },
    ])
    h.send('s/a/f', 212)
    const [r] = h.bodies('raw')
    expect(r).toMatchObject({ sensorId: 'a', metric: 'tempC2', value: 201, ts: 0, fields: { hot: 'yes' } })
    expect(r.fields.double).toBeCloseTo(402, 9)
    h.send('s/a/f', 32)
    expect(h.bodies('raw')[1].value).toBe(1) // 0 °C → 0*2+1, rounded
  })

  it('dead-letters a computed value that is not a finite number', () => {
    const h = pipe([{ type: 'map', value: 'log(value)' }])
    h.send('s/a/t', -1)
    h.send('s/a/t', Math.E)
    expect(raw(h)).toEqual([1])
    expect(h.dead[0]).toMatchObject({ code: 'FOG_READING_INVALID', stage: '0:map' })
  })
})

describe('deadband', () => {
  it('passes only changes beyond an absolute band, plus a heartbeat after max silence', () => {
    const h = pipe([{ type: 'deadband', absolute: 0.5, maxSilence: '10s' }])
    const vals = [
      [20, 0],
      [20.3, 1000],
      [20.6, 2000],
      [20.9, 3000],
      [21.2, 4000],
      [21.2, 14_000],
      [21.2, 15_000],
    ]
    for (const [value, ts] of vals) h.send('s/a/t', { value, ts })
    h.send('s/b/t', { value: 20.3, ts: 0 }) // another sensor has its own band
    expect(raw(h)).toEqual([20, 20.6, 21.2, 21.2, 20.3])
  })

  it('passes changes beyond a percentage of the last passed value', () => {
    const h = pipe([{ type: 'deadband', percent: 10 }])
    for (const v of [100, 105, 111, 121, 122.2, 134, 135]) h.send('s/a/t', v)
    expect(raw(h)).toEqual([100, 111, 122.2, 135])
  })
})

describe('downsample', () => {
  it('passes at most one reading per interval per sensor', () => {
    const h = pipe([{ type: 'downsample', interval: '1s' }])
    for (const ts of [0, 400, 999, 1000, 1500, 2100]) h.send('s/a/t', { value: ts, ts })
    expect(raw(h)).toEqual([0, 1000, 2100])
  })

  it('passes every n-th reading', () => {
    const h = pipe([{ type: 'downsample', every: 3 }])
    for (let i = 0; i < 8; i++) h.send('s/a/t', i)
    expect(raw(h)).toEqual([0, 3, 6])
  })
})

describe('swinging-door', () => {
  it('keeps the corners of a ramp and drops points on a straight line', () => {
    const h = pipe([{ type: 'swinging-door', deviation: 0.1 }])
    // a ramp up to t=5, then flat
    const pts: Array<[number, number]> = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((t) => [t * 1000, Math.min(t, 5)])
    for (const [ts, value] of pts) h.send('s/a/t', { value, ts })
    h.send('s/a/t', { value: 0, ts: 10_000 }) // a drop opens the door on the flat part
    expect(h.bodies('raw').map((r) => [r.ts, r.value])).toEqual([
      [0, 0],
      [5000, 5],
      [9000, 5],
    ])
  })

  it('reconstructs every dropped point within the deviation (linear interpolation between kept points)', () => {
    const h = pipe([{ type: 'swinging-door', deviation: 0.5 }])
    const pts: Array<[number, number]> = []
    let v = 0
    for (let i = 0; i < 500; i++) {
      v += Math.sin(i / 7) * 0.7 + ((i * 7919) % 13) / 26 - 0.25
      pts.push([i * 1000, v])
    }
    for (const [ts, value] of pts) h.send('s/a/t', { value, ts })
    const kept = h.bodies('raw').map((r) => [r.ts, r.value] as [number, number])
    expect(kept.length).toBeLessThan(pts.length / 2)
    // every point up to the last kept one lies within ±deviation of the line through its neighbours
    const lastKept = kept[kept.length - 1]![0]
    for (const [t, val] of pts.filter(([t]) => t <= lastKept)) {
      const j = kept.findIndex(([kt]) => kt >= t)
      const [t1, v1] = kept[j]!
      if (t1 === t) {
        expect(Math.abs(v1 - val)).toBeLessThanOrEqual(0.5 + 1e-9)
        continue
      }
      const [t0, v0] = kept[j - 1]!
      const interp = v0 + ((v1 - v0) * (t - t0)) / (t1 - t0)
      expect(Math.abs(interp - val)).toBeLessThanOrEqual(0.5 + 1e-9)
    }
  })
})

describe('threshold', () => {
  it('emits one enter and one leave with hysteresis, not one event per reading', () => {
    const h = pipe([{ type: 'threshold', name: 'too-warm', above: 8, hysteresis: 1, severity: 'critical' }])
    const seq = [5, 7, 8.5, 9, 8.2, 7.5, 8.1, 6.9, 7, 9.1]
    seq.forEach((value, i) => {
      h.send('s/fridge/t', { value, ts: i * 1000 })
    })
    const ev = h.bodies('event')
    expect(ev.map((e) => [e.kind, e.value, e.ts])).toEqual([
      ['enter', 8.5, 2000],
      ['leave', 6.9, 7000],
      ['enter', 9.1, 9000],
    ])
    expect(ev[0]).toMatchObject({
      pipelineId: 'p',
      sensorId: 'fridge',
      metric: 't',
      name: 'too-warm',
      severity: 'critical',
      detail: { above: 8 },
    })
    expect(h.outputs.find((o) => o.stream === 'event')!.priority).toBe(0)
    expect(raw(h)).toHaveLength(seq.length) // readings pass on
  })

  it('reports a change only after it held for the hold time', () => {
    const h = pipe([{ type: 'threshold', name: 'cold', below: 2, hold: '5s' }])
    const seq: Array<[number, number]> = [
      [0, 3],
      [1000, 1], // starts
      [3000, 3], // back: reset
      [4000, 1], // starts again
      [8000, 1.5],
      [9000, 1], // held 5 s → enter at 9000
      [10_000, 3],
      [16_000, 3], // held → leave
    ]
    for (const [ts, value] of seq) h.send('s/a/t', { value, ts })
    expect(h.bodies('event').map((e) => [e.kind, e.ts, e.detail.since])).toEqual([
      ['enter', 9000, 4000],
      ['leave', 16_000, 10_000],
    ])
  })
})

describe('decoders', () => {
  it('decodes text numbers, msgpack objects, payload ids and ISO timestamps', async () => {
    const { pack } = await import('msgpackr')
    const h = harness(
      [
        { id: 't', input: ['txt/+/+'], decoder: { type: 'text' }, output: { stream: 'raw' } },
        {
          id: 'm',
          input: ['mp/#'],
          decoder: { type: 'msgpack', value: '$.v', ts: '$.at', sensorId: '$.dev.id', metric: '$["kind"]' },
          output: { stream: 'raw' },
        },
        { id: 'j', input: ['js/+/+'], decoder: { value: '$.data[1]' }, output: { stream: 'raw' } },
      ],
      7,
    )
    h.send('txt/a/t', ' 21.5\n')
    h.send('txt/a/t', 'abc')
    h.engine.ingest('mp/x', pack({ v: 3, at: '2024-01-01T00:00:00Z', dev: { id: 'd1' }, kind: 'rpm' }))
    h.engine.ingest('mp/x', Buffer.from([0xc1]))
    h.send('js/b/h', { data: [1, 42] })
    expect(h.bodies('raw')).toEqual([
      { sensorId: 'a', metric: 't', value: 21.5, ts: 7 },
      { sensorId: 'd1', metric: 'rpm', value: 3, ts: Date.parse('2024-01-01T00:00:00Z') },
      { sensorId: 'b', metric: 'h', value: 42, ts: 7 },
    ])
    expect(h.dead.map((d) => d.pipelineId)).toEqual(['t', 'm'])
  })
})
