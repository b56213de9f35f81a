import { describe, expect, it } from 'vitest'
import { fitGaussian } from '../src/api/models.js'
import { testCloud } from './helpers.js'

const T0 = 1_700_000_000_000

/** Readings of one sensor cut into windows, summarised the way the fog node's window stage does. */
function windows(sensorId: string, values: number[], size: number, withSpread = true) {
  const out = []
  for (let i = 0; i < values.length; i += size) {
    const w = values.slice(i, i + size)
    const mean = w.reduce((a, b) => a + b, 0) / w.length
    const variance = w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length
    out.push({
      pipelineId: 'p',
      sensorId,
      metric: 'vibration',
      start: T0 + i * 100,
      end: T0 + (i + size) * 100,
      count: w.length,
      min: Math.min(...w),
      max: Math.max(...w),
      mean,
      sum: mean * w.length,
      ...(withSpread ? { aggs: { stddev: Math.sqrt(variance) } } : {}),
    })
  }
  return out
}

const exact = (values: number[]) => {
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  return { mean, std: Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) }
}

describe('fitting a gaussian anomaly model from stored summaries', () => {
  it('pools window summaries into exactly the mean and std of all their readings', () => {
    const a = Array.from({ length: 997 }, (_, i) => 2 + Math.sin(i / 7) + (i % 13) / 10)
    const b = Array.from({ length: 500 }, (_, i) => 50 + ((i * 7919) % 101) / 10)
    const rows = [...windows('a', a, 60), ...windows('b', b, 37), ...windows('c', [1, 2, 3], 3, false)].map(
      (body, seq) => ({ nodeId: 'n', stream: 'summary' as const, seq, aggs: body.aggs ?? null, ...body }),
    )
    const fit = fitGaussian(rows, { k: 5 })
    expect(fit.skipped).toBe(1) // no spread aggregate: cannot be pooled exactly
    expect(Object.keys(fit.model.sensors)).toEqual(['a', 'b'])
    for (const [id, values] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const want = exact(values)
      expect(fit.model.sensors[id]!.mean).toBeCloseTo(want.mean, 8)
      expect(fit.model.sensors[id]!.std).toBeCloseTo(want.std, 8)
    }
    expect(fit.model).toMatchObject({ kind: 'gaussian', k: 5 })
  })

  it('GET /api/models/fit answers the model for the stored summaries, and 400 with a code when it cannot', async () => {
    const cloud = await testCloud()
    const values = Array.from({ length: 300 }, (_, i) => 10 + ((i * 37) % 17) / 4)
    await cloud.store.insertBatch(
      {
        nodeId: 'n1',
        stream: 'summary',
        batchId: 'b1',
        sentAt: T0,
        records: windows('s1', values, 50).map((body, i) => ({ seq: i + 1, ts: T0, body })),
      },
      T0,
    )
    const ok = await cloud.fetch(`${cloud.httpUrl}/api/models/fit?metric=vibration&node=n1&k=6`)
    expect(ok.status).toBe(200)
    const body = (await ok.json()) as { model: { sensors: Record<string, { mean: number; std: number }> } }
    expect(body).toMatchObject({ used: 6, skipped: 0, model: { kind: 'gaussian', k: 6 } })
    expect(body.model.sensors.s1!.mean).toBeCloseTo(exact(values).mean, 8)
    expect(body.model.sensors.s1!.std).toBeCloseTo(exact(values).std, 8)

    for (const [qs, field] of [
      ['', 'metric'],
      ['metric=vibration&k=-1', 'k'],
      ['metric=pressure', 'metric'],
      ['metric=vibration&bogus=1', 'bogus'],
    ] as const) {
      const r = await cloud.fetch(`${cloud.httpUrl}/api/models/fit?${qs}`)
      expect(r.status, qs).toBe(400)
      const e = ((await r.json()) as { error: { code: string; where?: { field?: string }; message: string } })
        .error
      expect(e.code).toBe('FOG_API_BAD_REQUEST')
      expect(JSON.stringify(e)).toContain(field)
    }
  })
})
