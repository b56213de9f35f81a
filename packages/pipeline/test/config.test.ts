import { FoglineError } from '@fogline/protocol'
import { errorOf, fakeClock } from '@fogline/testkit'
import { describe, expect, it } from 'vitest'
import { canonicalJson } from '../src/config.js'
import { builtinStages, validatePipelines } from '../src/index.js'
import { harness } from './helpers.js'

const ok = { id: 'a', input: ['s/+/+'], stages: [{ type: 'window', size: '5s' }] }

describe('validatePipelines', () => {
  it('fills defaults, derives outputs from the stages, freezes, and is idempotent', () => {
    const [p] = validatePipelines([ok])
    expect(p!.stages[0]).toMatchObject({
      type: 'window',
      kind: 'tumbling',
      size: 5000,
      aggregates: ['count', 'min', 'max', 'mean', 'sum'],
      groupBy: ['sensorId', 'metric'],
    })
    expect(p!.decoder).toEqual({ type: 'json', value: '$.value', sensorId: 'topic[1]', metric: 'topic[2]' })
    expect(Object.isFrozen(p!.stages[0])).toBe(true)
    expect(canonicalJson(validatePipelines(validatePipelines([ok]))[0])).toBe(canonicalJson(p))
  })

  it('names the file, pipeline and field path of a bad stage field', () => {
    const e = errorOf(() =>
      validatePipelines([ok, { id: 'b', input: ['x'], stages: [{ type: 'window', size: 'soon' }] }], {
        file: 'n.yaml',
      }),
    )
    expect(e.code).toBe('FOG_CONFIG_INVALID')
    expect(e.where).toMatchObject({ file: 'n.yaml', pipeline: 'b', field: 'pipelines[1].stages[0].size' })
    expect(e.toUserString()).toMatch(
      /^FOG_CONFIG_INVALID n\.yaml pipeline b field pipelines\[1\]\.stages\[0\]\.size: /,
    )
  })

  it('rejects unknown stage types with FOG_STAGE_UNKNOWN and unknown keys with their path', () => {
    const e1 = errorOf(() => validatePipelines([{ ...ok, stages: [{ type: 'windw' }] }]))
    expect(e1.code).toBe('FOG_STAGE_UNKNOWN')
    expect(e1.where).toMatchObject({ pipeline: 'a', field: 'pipelines[0].stages[0].type' })
    const e2 = errorOf(() =>
      validatePipelines([{ ...ok, stages: [{ type: 'deadband', absolute: 1, maxSilense: '1s' }] }]),
    )
    expect(e2.where.field).toBe('pipelines[0].stages[0].maxSilense')
    expect(e2.message).toMatch(/unknown key "maxSilense"/)
    const e3 = errorOf(() => validatePipelines([{ ...ok, ouptut: {} }]))
    expect(e3.where).toMatchObject({ pipeline: 'a', field: 'pipelines[0].ouptut' })
    const e4 = errorOf(() =>
      validatePipelines([{ ...ok, stages: [{ type: 'window', kind: 'hopping', size: '5s' }] }]),
    )
    expect(e4.where.field).toBe('pipelines[0].stages[0].hop')
  })

  it('rejects bad expressions with FOG_EXPR_INVALID, including names outside the language', () => {
    for (const expr of [
      'value >',
      'process.exit(1)',
      'constructor',
      'fields.a.b',
      'this',
      '(() => 1)()',
      'constructor(1)',
      'toString()',
      'value.constructor',
      '/x/.test(metric)',
    ]) {
      const e = errorOf(() => validatePipelines([{ ...ok, stages: [{ type: 'filter', expr }] }]))
      expect(e.code, expr).toBe('FOG_EXPR_INVALID')
      expect(e.where.field).toBe('pipelines[0].stages[0].expr')
    }
    const e = errorOf(() =>
      validatePipelines([{ ...ok, stages: [{ type: 'map', fields: { x: 'eval("1")' } }] }]),
    )
    expect(e.code).toBe('FOG_EXPR_INVALID')
    expect(e.where.field).toBe('pipelines[0].stages[0].fields.x')
  })

  it('checks duplicate ids, decoder paths, units, and that stage streams have an output', () => {
    expect(errorOf(() => validatePipelines([ok, ok])).where.field).toBe('pipelines[1].id')
    expect(errorOf(() => validatePipelines([{ ...ok, decoder: { value: 'value' } }])).where.field).toBe(
      'pipelines[0].decoder.value',
    )
    const u = errorOf(() =>
      validatePipelines([{ ...ok, stages: [{ type: 'map', convert: { from: '°C', to: 'psi' } }] }]),
    )
    expect(u.message).toMatch(/cannot convert temperature/)
    const s = errorOf(() =>
      validatePipelines([
        { ...ok, stages: [{ type: 'threshold', name: 'x', above: 1 }], output: { stream: 'summary' } },
      ]),
    )
    expect(s.where.field).toBe('pipelines[0].stages[0]')
    expect(s.message).toMatch(/no event stream/)
  })

  it('createEngine refuses a bad config with the file named', async () => {
    const { createEngine } = await import('../src/index.js')
    const clock = fakeClock(0)
    const e = errorOf(() =>
      createEngine(
        [{ ...ok, stages: [{ type: 'window', size: -1 }] }],
        { clock, emit: () => {}, deadLetter: () => {} },
        { file: 'x.yaml' },
      ),
    )
    expect(e.where).toMatchObject({ file: 'x.yaml', pipeline: 'a', field: 'pipelines[0].stages[0].size' })
  })

  it('registers every built-in stage once', () => {
    const names = builtinStages.map((s) => s.name)
    expect(names).toEqual([
      'validate',
      'filter',
      'map',
      'deadband',
      'downsample',
      'swinging-door',
      'window',
      'threshold',
      'anomaly',
    ])
  })
})

describe('outputs', () => {
  it('sends window summaries, threshold events and raw readings of one pipeline to their streams with priorities', () => {
    const h = harness(
      [
        {
          id: 'multi',
          input: ['s/+/+'],
          stages: [
            { type: 'threshold', name: 'hot', above: 10 },
            { type: 'window', size: '1s' },
          ],
          output: [{ stream: 'summary', priority: 3 }, { stream: 'event' }, { stream: 'raw', priority: 9 }],
        },
      ],
      0,
    )
    h.send('s/a/t', 5)
    h.send('s/a/t', 15)
    h.engine.tick(1000)
    expect(h.outputs.map((o) => [o.stream, o.priority])).toEqual([
      ['raw', 9],
      ['event', 0],
      ['raw', 9],
      ['summary', 3],
    ])
    expect(h.engine.counters().multi!.outputs).toBe(4)
  })
})

describe('hot reload', () => {
  const two = [
    { id: 'a', input: ['s/a/+'], stages: [{ type: 'window', size: '10s' }] },
    { id: 'b', input: ['s/b/+'], stages: [{ type: 'window', size: '10s' }] },
  ]

  it('changing one of two pipelines keeps the other one’s open window intact', () => {
    const h = harness(two, 0)
    h.send('s/a/t', 1)
    h.send('s/b/t', 2)
    const r = h.engine.reload([
      two[0],
      {
        ...two[1],
        stages: [{ type: 'window', size: '10s', aggregates: ['count', 'sum', 'max', 'min', 'mean', 'p50'] }],
      },
      { id: 'c', input: ['s/c/+'] },
    ])
    expect(r).toEqual({ added: ['c'], changed: ['b'], removed: [], kept: ['a'] })
    // the replaced pipeline handed over its open window at once, marked partial: no reading is lost
    expect(h.bodies()).toEqual([
      expect.objectContaining({ pipelineId: 'b', count: 1, sum: 2, partial: true }),
    ])
    h.send('s/a/t', 3)
    h.send('s/b/t', 4)
    h.engine.tick(10_000)
    const s = h.bodies().slice(1)
    expect(s.find((x) => x.pipelineId === 'a')).toMatchObject({ count: 2, sum: 4 }) // kept its state
    expect(s.find((x) => x.pipelineId === 'a')?.partial).toBeUndefined()
    expect(s.find((x) => x.pipelineId === 'b')).toMatchObject({ count: 1, sum: 4, aggs: { p50: 4 } }) // fresh
    expect(h.engine.filters).toEqual(['s/a/+', 's/b/+', 's/c/+'])
  })

  it('an equal definition written differently (key order, defaults spelled out) counts as unchanged', () => {
    const h = harness(two, 0)
    h.send('s/a/t', 1)
    const r = h.engine.reload([
      { stages: [{ size: 10_000, type: 'window', kind: 'tumbling' }], input: ['s/a/+'], id: 'a' },
    ])
    expect(r).toEqual({ added: [], changed: [], removed: ['b'], kept: ['a'] })
    h.send('s/b/t', 1) // no pipeline takes it any more
    h.engine.tick(10_000)
    expect(h.bodies()).toEqual([expect.objectContaining({ pipelineId: 'a', count: 1 })])
  })

  it('an invalid config throws and leaves the running set untouched', () => {
    const h = harness(two, 0)
    h.send('s/a/t', 1)
    const e = errorOf(() =>
      h.engine.reload([two[0], { ...two[1], stages: [{ type: 'nope' }] }], { file: 'desired.yaml' }),
    )
    expect(e.code).toBe('FOG_STAGE_UNKNOWN')
    expect(e.where).toMatchObject({ file: 'desired.yaml', pipeline: 'b' })
    h.send('s/a/t', 2)
    h.send('s/b/t', 5)
    h.engine.tick(10_000)
    expect(h.bodies().map((s) => [s.pipelineId, s.count])).toEqual([
      ['a', 2],
      ['b', 1],
    ])
  })

  it('a restored checkpoint only applies to pipelines whose definition is unchanged', () => {
    const h = harness(two, 0)
    h.send('s/a/t', 1)
    h.send('s/b/t', 1)
    const snap = JSON.parse(JSON.stringify(h.engine.snapshot()))
    const h2 = harness([two[0], { ...two[1], stages: [{ type: 'window', size: '20s' }] }], 0)
    h2.engine.restore(snap)
    h2.engine.tick(20_000)
    expect(h2.bodies().map((s) => s.pipelineId)).toEqual(['a'])
    expect(() => h2.engine.restore({ nope: 1 })).toThrow(FoglineError)
  })
})

describe('expression language', () => {
  it('evaluates arithmetic, comparisons, logic, ternaries, functions and fields without coercion', async () => {
    const { compileExpr } = await import('../src/expr.js')
    const r = { sensorId: 's1', metric: 'temp', value: -4, ts: 1000, fields: { unit: 'C', n: 2 } }
    const cases: Array<[string, unknown]> = [
      ['abs(value) * 2 + 1', 9],
      ['value ** 2 % 5', 1],
      ['max(value, fields.n, 0) == 2', true],
      ['fields["unit"] == "C" && !(metric != "temp")', true],
      ['value < 0 ? "neg" : "pos"', 'neg'],
      ['fields.n == "2"', false],
      ['fields.missing == null', false],
      ['sensorId + "/" + metric', 's1/temp'],
      ['ts / 1000 >= 1 || false', true],
      ['-value + +1', 5],
    ]
    for (const [e, want] of cases) expect(compileExpr(e)(r), e).toBe(want)
  })
})
