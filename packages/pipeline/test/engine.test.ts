import { describe, expect, it } from 'vitest'
import { harness } from './helpers.js'

const temps = [
  {
    id: 'temps',
    input: ['sensors/+/+'],
    decoder: { type: 'json', value: '$.value', ts: '$.ts' },
    stages: [
      { type: 'window', kind: 'tumbling', size: '5s', aggregates: ['count', 'min', 'max', 'mean', 'sum'] },
    ],
    output: { stream: 'summary' },
  },
]

describe('engine basics', () => {
  it('decodes bare numbers and objects, windows per sensor and metric, and emits summaries on tick', () => {
    const h = harness(temps, 1_000_000)
    h.send('sensors/s1/temp', 1)
    h.send('sensors/s1/temp', { value: 3, ts: 5 })
    h.send('sensors/s2/temp', 10)
    h.send('sensors/s1/hum', 50)
    h.send('other/s1/temp', 99)
    expect(h.outputs).toHaveLength(0)
    h.engine.tick(1_004_999)
    expect(h.outputs).toHaveLength(0)
    h.engine.tick(1_005_000)
    const s = h.bodies()
    expect(s).toHaveLength(3)
    const s1 = s.find((x) => x.sensorId === 's1' && x.metric === 'temp')
    expect(s1).toEqual({
      pipelineId: 'temps',
      sensorId: 's1',
      metric: 'temp',
      start: 1_000_000,
      end: 1_005_000,
      count: 2,
      min: 1,
      max: 3,
      mean: 2,
      sum: 4,
    })
    expect(h.outputs[0]).toMatchObject({ pipelineId: 'temps', stream: 'summary', priority: 1, ts: 1_005_000 })
    expect(h.engine.filters).toEqual(['sensors/+/+'])
  })

  it('closes a window when a reading of a later window arrives, without a tick', () => {
    const h = harness(temps, 1_000_000)
    h.send('sensors/s1/temp', 1)
    h.clock.set(1_006_000)
    h.send('sensors/s1/temp', 2)
    expect(h.bodies()).toMatchObject([{ count: 1, sum: 1, start: 1_000_000 }])
  })

  it('takes the arrival time its caller read (ingest(topic, payload, now)) instead of reading the clock', () => {
    const h = harness(temps, 1_000_000)
    h.engine.ingest('sensors/s1/temp', Buffer.from('1'), 1_012_000)
    h.engine.ingest('sensors/s1/temp', Buffer.from('2'), 1_017_000)
    // the clock still says 1,000,000: the windows are where the given times put them
    expect(h.bodies()).toMatchObject([{ count: 1, sum: 1, start: 1_010_000, end: 1_015_000 }])
  })

  it('sets malformed payloads aside with a reason and a counter, never throwing', () => {
    const h = harness(temps)
    for (const p of [
      '{"value": 1',
      '{"value":"hot"}',
      'null',
      '[1]',
      '{"v":1}',
      Buffer.from([0xff, 0x00, 0x80]),
    ])
      h.send('sensors/s1/temp', p)
    h.send('sensors/s1/temp', '{"value": 2, "ts": "nope"}')
    h.send('sensors/s1/temp', 4)
    expect(h.dead).toHaveLength(7)
    expect(
      h.dead.every(
        (d) =>
          d.code === 'FOG_PAYLOAD_MALFORMED' && d.topic === 'sensors/s1/temp' && d.pipelineId === 'temps',
      ),
    ).toBe(true)
    expect(h.dead[0]!.reason).toMatch(/not JSON/)
    expect(h.dead[1]!.reason).toMatch(/not a finite number/)
    expect(h.dead[5]!.payload).toMatch(/^base64:/)
    const c = h.engine.counters().temps!
    expect(c.malformed).toBe(7)
    expect(c.readingsIn).toBe(8)
    expect(c.deadLetters).toBe(7)
    expect(c.stages['0:window']).toMatchObject({ in: 1, out: 1 })
  })

  it('resumes an open window from a JSON snapshot in a fresh engine', () => {
    const a = harness(temps, 1_000_000)
    a.send('sensors/s1/temp', 1)
    a.send('sensors/s1/temp', 2)
    const saved = JSON.parse(JSON.stringify(a.engine.snapshot()))
    a.engine.close()
    const b = harness(temps, 1_002_000)
    b.engine.restore(saved)
    expect(JSON.parse(JSON.stringify(b.engine.snapshot()))).toEqual(saved)
    b.send('sensors/s1/temp', 10)
    b.engine.tick(1_005_000)
    expect(b.bodies()).toEqual([
      {
        pipelineId: 'temps',
        sensorId: 's1',
        metric: 'temp',
        start: 1_000_000,
        end: 1_005_000,
        count: 3,
        min: 1,
        max: 10,
        mean: 13 / 3,
        sum: 13,
      },
    ])
  })

  it('routes each topic to its own pipelines when topics alternate between different sets of them', () => {
    const p = (id: string, input: string[]) => ({ ...temps[0], id, input })
    const h = harness([p('a', ['a/+/+']), p('ab', ['a/+/+', 'b/+/+']), p('b', ['b/+/+'])], 1_000_000)
    // the topic cache shares one array of pipelines between topics with the same ones (engine.ts shareRuns)
    for (const t of ['a/s1/t', 'a/s2/t', 'b/u1/t', 'a/s3/t', 'c/s1/t', 'b/u2/t', 'b/u2/t', 'a/s1/t'])
      h.send(t, 1)
    h.engine.tick(1_005_000)
    const count = (id: string) => h.bodies().filter((x) => x.pipelineId === id).length
    expect([count('a'), count('ab'), count('b')]).toEqual([3, 5, 2])
    const c = h.engine.counters()
    expect([c.a!.readingsIn, c.ab!.readingsIn, c.b!.readingsIn]).toEqual([4, 7, 3])
  })
})
