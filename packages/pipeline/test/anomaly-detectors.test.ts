import { describe, expect, it } from 'vitest'
import { AnomalyModel, createDetector } from '../src/index.js'
import { noise } from './anomaly-noise.js'
import { harness } from './helpers.js'

/**
 * Each detector on simulator-style series (a daily-like cycle of 288 readings plus gaussian noise): the
 * injected spike, level shift, stuck value, slow drift and changed periodicity must raise an event inside
 * their span, and the clean series none. What a detector cannot see by design (a z-score detector cannot
 * see a stuck value inside the normal band, nor a changed period with the same amplitude) is asserted as
 * such, so a change shows up here.
 */

const N = 4000
const AT = 3000
const PERIOD = 288
type Fault = 'clean' | 'spike' | 'level' | 'stuck' | 'drift' | 'period'

/** a cycle of amplitude 10 with noise σ 1; the fault starts at AT */
function series(fault: Fault, seed = 5, faster = 3): number[] {
  const n = noise(seed)
  return Array.from({ length: N }, (_, i) => {
    const after = i >= AT
    const period = fault === 'period' && after ? PERIOD / faster : PERIOD
    let v = 50 + 10 * Math.sin((2 * Math.PI * i) / period) + n()
    if (fault === 'spike' && i === AT) v += 25
    if (fault === 'level' && after) v += 15
    if (fault === 'stuck' && after) v = 50 + 10 * Math.sin((2 * Math.PI * AT) / PERIOD)
    if (fault === 'drift' && after) v += (i - AT) * 0.05
    return v
  })
}

function run(model: unknown, values: number[]) {
  const h = harness(
    [
      {
        id: 'p',
        input: ['s/+/+'],
        decoder: { type: 'json', value: '$.value', ts: '$.ts' },
        stages: [{ type: 'anomaly', model }],
      },
    ],
    0,
  )
  values.forEach((v, i) => {
    h.send('s/a/t', { value: v, ts: i })
  })
  return h.bodies('event').map((e) => e.ts as number)
}

const flagged = (events: number[]) => events.some((t) => t >= AT && t < AT + 400)
const early = (events: number[]) => events.filter((t) => t < AT)

// ewma/gaussian: tuned as a user would for this signal (k = 5; gaussian fitted on the clean head)
const detectors = {
  context: { kind: 'context' },
  ewma: { kind: 'ewma', alpha: 0.01, k: 3, warmup: 300 },
  gaussian: { kind: 'gaussian', mean: 50, std: 7.1, k: 3 },
} as const

describe.each(Object.entries(detectors))('%s detector', (name, model) => {
  it('raises no event on the clean series', () => {
    expect(run(model, series('clean'))).toEqual([])
    expect(run(model, series('clean', 9))).toEqual([])
  })

  const sees: Record<string, Fault[]> = {
    // the faster cycle: its block-to-block steps go past every step seen (the slow channel)
    context: ['spike', 'level', 'stuck', 'drift', 'period'],
    // on a cycle as large as the shift the learned spread is wide: ewma sees the spike only
    ewma: ['spike'],
    gaussian: ['spike', 'level', 'drift'],
  }
  for (const fault of ['spike', 'level', 'stuck', 'drift', 'period'] as const) {
    const expected = sees[name]!.includes(fault)
    it(`${expected ? 'flags' : 'cannot see'} a ${fault} (within 400 readings, none before it)`, () => {
      const ev = run(model, series(fault))
      expect(flagged(ev)).toBe(expected)
      expect(early(ev)).toEqual([])
    })
  }
})

describe('context detector, changed periodicity', () => {
  // the same amplitude, only faster: no value is new, the steps between block medians are. Scores as the
  // stage sees them (event at ≥ 0.6 after the 1,000-reading probation), over 30 noise seeds: the faster
  // cycle is found in every run, and the clean part raises no more alarms than before the slow channel
  // (4 of 30 runs have one new fast-channel context at 0.6-0.65 somewhere in 2,000 clean readings).
  it('flags a cycle 2× and 3× as fast in 30 of 30 noisy runs; ≤ 4 of 30 clean runs raise one alarm', () => {
    const model = AnomalyModel.parse({ kind: 'context' })
    const alarm = (s: number[], from: number, to: number) => s.slice(from, to).some((v) => v >= 0.6)
    let found = 0
    let falseAlarms = 0
    for (let seed = 1; seed <= 30; seed++) {
      for (const faster of [2, 3]) {
        const d = createDetector(model, 's')!
        const s = series('period', seed, faster).map((x) => d.update(x))
        if (alarm(s, AT, AT + 400)) found++
        if (faster === 2 && alarm(s, 1000, AT)) falseAlarms++
      }
    }
    expect(found).toBe(60)
    expect(falseAlarms).toBeLessThanOrEqual(4)
  })
})

describe('context detector state', () => {
  it('snapshot → restore resumes with identical scores (the restored engine never relearns)', () => {
    const values = series('period', 3)
    const pipe = (output: string) => [
      {
        id: 'p',
        input: ['s/+/+'],
        decoder: { type: 'json', value: '$.value', ts: '$.ts' },
        stages: [{ type: 'anomaly', output }],
        output: [{ stream: 'raw' }, { stream: 'event' }],
      },
    ]
    const a = harness(pipe('score'), 0)
    values.slice(0, 2000).forEach((v, i) => {
      a.send('s/a/t', { value: v, ts: i })
    })
    const b = harness(pipe('score'), 0)
    b.engine.restore(JSON.parse(JSON.stringify(a.engine.snapshot())))
    const cold = harness(pipe('score'), 0)
    values.slice(2000).forEach((v, i) => {
      for (const h of [a, b, cold]) h.send('s/a/t', { value: v, ts: 2000 + i })
    })
    const scores = (h: typeof a) =>
      h
        .bodies('raw')
        .filter((r) => r.ts >= 2000)
        .map((r) => r.value)
    expect(scores(b)).toEqual(scores(a))
    expect(scores(a).some((s: number) => s > 0.5)).toBe(true) // the changed period is in there
    expect(scores(cold)).not.toEqual(scores(a)) // a cold start would differ: the state mattered
    expect(b.bodies('event')).toEqual(a.bodies('event').filter((e) => e.ts >= 2000))
  })

  it('a pushed model of the same shape keeps the learned contexts; another shape starts afresh', () => {
    const h = harness(
      [
        {
          id: 'p',
          input: ['s/+/+'],
          decoder: { type: 'json', value: '$.value', ts: '$.ts' },
          stages: [{ type: 'anomaly', model: 'm' }],
        },
      ],
      0,
    )
    const values = series('clean')
    h.engine.models.set({ m: { kind: 'context', version: 1 } })
    values.slice(0, 2000).forEach((v, i) => {
      h.send('s/a/t', { value: v, ts: i })
    })
    h.engine.models.set({ m: { kind: 'context', version: 2, threshold: 0.65 } })
    values.slice(2000, 3000).forEach((v, i) => {
      h.send('s/a/t', { value: v, ts: 2000 + i })
    })
    expect(h.bodies('event')).toEqual([]) // upgraded in place: nothing relearned, nothing flagged
    h.engine.models.set({ m: { kind: 'context', version: 3, levels: 20, warmup: 50, probation: 0 } })
    values.slice(3000).forEach((v, i) => {
      h.send('s/a/t', { value: v, ts: 3000 + i })
    })
    // a new grid: its contexts are all new after the 50-reading warmup, so it flags at once, version 3
    expect(h.bodies('event').map((e) => [e.detail.detector, e.detail.version])).toContainEqual(['context', 3])
  })
})
