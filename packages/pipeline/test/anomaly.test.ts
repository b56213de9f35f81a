import { FoglineError } from '@fogline/protocol'
import { describe, expect, it } from 'vitest'
import { ModelRegistry } from '../src/index.js'
import { noise } from './anomaly-noise.js'
import { harness } from './helpers.js'

const pipe = (model: unknown, extra: Record<string, unknown> = {}) => [
  {
    id: 'p',
    input: ['s/+/+'],
    decoder: { type: 'json', value: '$.value', ts: '$.ts' },
    stages: [{ type: 'anomaly', model, ...extra }],
  },
]

describe('anomaly stage', () => {
  it('ewma: one event per spike episode, none on plain noise, and a lasting level shift is learned', () => {
    const h = harness(pipe({ kind: 'ewma', alpha: 0.05, k: 5, warmup: 50 }), 0)
    const n = noise(7)
    const send = (i: number, v: number) => h.send('s/a/t', { value: v, ts: i * 100 })
    let i = 0
    for (; i < 2000; i++) send(i, 20 + n()) // 2,000 readings of N(20, 1): no event at k = 5
    expect(h.bodies('event')).toEqual([])
    for (let j = 0; j < 5; j++, i++) send(i, 30 + n()) // a 5-reading spike of +10 σ
    const ev = h.bodies('event')
    expect(ev).toHaveLength(1)
    expect(ev[0]).toMatchObject({ kind: 'anomaly', name: 'anomaly', sensorId: 'a', metric: 't', ts: 200_000 })
    expect(ev[0].detail.score).toBeGreaterThan(0.8) // z ≈ 10 at k = 5: 100 / (100 + 25)
    expect(Math.abs(ev[0].detail.expected - 20)).toBeLessThan(0.5) // the spike did not drag the level
    expect(Math.abs(ev[0].detail.high - ev[0].detail.expected - 5)).toBeLessThan(1.5) // k × std, std ≈ 1
    expect(ev[0].detail).toMatchObject({ detector: 'ewma', model: 'inline', version: 0 })
    for (let j = 0; j < 500; j++, i++) send(i, 20 + n()) // back to normal: the episode ends quietly
    expect(h.bodies('event')).toHaveLength(1)
    for (let j = 0; j < 1500; j++, i++) send(i, 28 + n()) // level shift of +8 σ, for good
    const after = h.bodies('event')
    expect(after).toHaveLength(2) // one event when it starts, then the model learns the new level
    expect(after[1].ts).toBe(250_500)
  })

  it('gaussian: per-sensor parameters, the default for the rest, and an event as it enters and after it clears', () => {
    const h = harness(
      pipe(
        { kind: 'gaussian', mean: 0, std: 1, k: 3, sensors: { hot: { mean: 100, std: 2 } } },
        { name: 'odd', severity: 'critical', clear: 0.5 },
      ),
      0,
    )
    h.send('s/hot/t', { value: 104, ts: 1 }) // z = 2
    h.send('s/cold/t', { value: 2, ts: 2 }) // z = 2
    h.send('s/hot/t', { value: 107, ts: 3 }) // z = 3.5: enters
    h.send('s/hot/t', { value: 110, ts: 4 }) // still in the episode
    h.send('s/hot/t', { value: 104, ts: 5 }) // z = 2 > clear × k = 1.5: still in
    h.send('s/hot/t', { value: 101, ts: 6 }) // z = 0.5: cleared
    h.send('s/hot/t', { value: 93, ts: 7 }) // z = 3.5: a new episode
    h.send('s/cold/t', { value: -3.5, ts: 8 })
    expect(h.bodies('event').map((e) => [e.sensorId, e.ts, e.name, e.severity, e.detail.expected])).toEqual([
      ['hot', 3, 'odd', 'critical', 100],
      ['hot', 7, 'odd', 'critical', 100],
      ['cold', 8, 'odd', 'critical', 0],
    ])
    // readings pass on unchanged
    expect(h.engine.counters().p!.stages['0:anomaly']).toMatchObject({ in: 8, out: 8, dropped: 0, errors: 0 })
  })

  it('a named model scores nothing until the node holds it, and a pushed replacement applies at once', () => {
    const h = harness(pipe('vib'), 0)
    h.send('s/a/t', { value: 50, ts: 1 })
    expect(h.bodies('event')).toEqual([])
    h.engine.models.set({ vib: { kind: 'gaussian', mean: 10, std: 1, k: 4 } })
    h.send('s/a/t', { value: 50, ts: 2 })
    expect(h.bodies('event')).toHaveLength(1)
    h.engine.models.set({ vib: { kind: 'gaussian', mean: 50, std: 1, k: 4 } })
    h.send('s/a/t', { value: 50, ts: 3 }) // normal under the new model: the episode ends
    h.send('s/a/t', { value: 40, ts: 4 })
    expect(h.bodies('event').map((e) => [e.ts, e.detail.expected, e.detail.model])).toEqual([
      [2, 10, 'vib'],
      [4, 50, 'vib'],
    ])
  })

  it('refuses invalid models naming the model and field, and keeps the models it had', () => {
    const r = new ModelRegistry()
    r.set({ vib: { kind: 'ewma' } })
    expect(r.get('vib')).toMatchObject({ kind: 'ewma', alpha: 0.05, k: 4, warmup: 30 })
    const err = (() => {
      try {
        r.set({ vib: { kind: 'ewma', alpha: 2 }, other: { kind: 'gaussian', mean: 1, std: 1 } })
      } catch (e) {
        return e as FoglineError
      }
    })()
    expect(err).toBeInstanceOf(FoglineError)
    expect(err?.code).toBe('FOG_CONFIG_INVALID')
    expect(err?.where.field).toBe('models.vib.alpha')
    expect(r.names()).toEqual(['vib'])
    expect(r.get('vib')?.alpha).toBe(0.05)
    expect(() => r.set([1])).toThrow(/models must be an object/)
    expect(() => r.set({ x: { kind: 'isolation-forest' } })).toThrow(FoglineError)
  })

  it('checkpoints the learned level: a restored engine scores exactly like the one that never stopped', () => {
    const cfg = pipe({ kind: 'ewma', alpha: 0.1, k: 3, warmup: 20 })
    const a = harness(cfg, 0)
    const n = noise(3)
    const values = Array.from({ length: 400 }, (_, i) => 5 + n() + (i % 97 === 96 ? 6 : 0))
    for (const [i, v] of values.slice(0, 200).entries()) a.send('s/x/t', { value: v, ts: i })
    const b = harness(cfg, 0)
    b.engine.restore(JSON.parse(JSON.stringify(a.engine.snapshot())))
    values.slice(200).forEach((v, i) => {
      a.send('s/x/t', { value: v, ts: 200 + i })
      b.send('s/x/t', { value: v, ts: 200 + i })
    })
    const later = (h: typeof a) => h.bodies('event').filter((e) => e.ts >= 200)
    expect(later(a).length).toBeGreaterThan(0)
    expect(later(b)).toEqual(later(a))
  })

  it("output: score streams every reading's score, and a window after it reports maxScore per window", () => {
    const h = harness(
      [
        {
          id: 'p',
          input: ['s/+/+'],
          decoder: { type: 'json', value: '$.value', ts: '$.ts' },
          stages: [
            { type: 'anomaly', model: { kind: 'ewma', alpha: 0.05, k: 5, warmup: 50 }, output: 'score' },
            { type: 'window', kind: 'count', count: 100, aggregates: ['max', 'count'] },
          ],
          output: [{ stream: 'summary' }, { stream: 'event' }],
        },
      ],
      0,
    )
    const n = noise(11)
    for (let i = 0; i < 1000; i++) h.send('s/a/t', { value: 20 + n() + (i === 650 ? 12 : 0), ts: i })
    const maxScore = h.bodies('summary').map((s) => s.max as number)
    expect(maxScore).toHaveLength(10)
    for (const m of maxScore) expect(m >= 0 && m < 1).toBe(true)
    expect(maxScore[6]).toBeGreaterThan(0.6) // the window with the 12σ spike (z ≈ 10 at k 5: ≈ 0.8)
    expect(Math.max(...maxScore.filter((_, i) => i !== 6))).toBeLessThan(0.5) // no other window near an event
    expect(h.bodies('event').map((e) => e.ts)).toEqual([650])
  })
})
