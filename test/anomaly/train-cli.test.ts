import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateDesiredKeyPair } from '@fogline/protocol'
import { fakeClock } from '@fogline/testkit'
import { describe, expect, it } from 'vitest'
import { fogline } from '../cloud/helpers.js'
import { dir, type OperatorKey, trusted, until } from '../desired/helpers.js'
import { testCloud } from '../fleet.js'

/**
 * Cloud training as an operator drives it: `fogline train --node ID` (the CLI in a child process against a
 * running cloud: real aedes, SQLite, HTTP on port 0), and the schedule a cloud runs from its `training`
 * config on its own (fake) clock. The node's summaries are written straight into the cloud's store, as
 * ingest would have stored them.
 */
const MIN = 60_000

/** 60 one-minute windows of two pressure sensors ending at `end`, summarised as the window stage does */
function summaries(end: number) {
  let s = 7
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return (s + 0.5) / 4294967296
  }
  const z = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u())
  const records = []
  for (const [k, sensorId, mean] of [
    [0, 'p1', 50],
    [1, 'p2', 52],
  ] as const) {
    for (let m = 0; m < 60; m++) {
      const xs = Array.from({ length: 60 }, () => mean + z())
      const mu = xs.reduce((a, b) => a + b, 0) / xs.length
      const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mu) ** 2, 0) / xs.length)
      const start = end - (60 - m) * MIN
      records.push({
        seq: k * 60 + m + 1,
        ts: start + MIN,
        body: {
          pipelineId: 'p',
          sensorId,
          metric: 'pressure',
          start,
          end: start + MIN,
          count: 60,
          min: Math.min(...xs),
          max: Math.max(...xs),
          mean: mu,
          sum: mu * 60,
          aggs: { stddev: sd },
        },
      })
    }
  }
  return { nodeId: 'n1', stream: 'summary' as const, batchId: 'b1', sentAt: end, records }
}

/** a cloud with a `training` section (its own models-only key), n1's summaries stored, an operator token */
async function trainingCloud(training: Record<string, unknown>, clock?: ReturnType<typeof fakeClock>) {
  const d = dir()
  const operator: OperatorKey = generateDesiredKeyPair()
  const trainer = generateDesiredKeyPair()
  const key = join(d, 'training.pem')
  writeFileSync(key, trainer.privateKeyPem, { mode: 0o600 })
  const cloud = await testCloud(d, {
    config: {
      operatorKeys: [trusted(operator), trusted(trainer, { scopes: ['models'] })],
      training: { key, lookback: '1d', ...training },
    },
    options: clock ? { clock } : {},
  })
  const now = clock?.now() ?? Date.now()
  await cloud.store.insertBatch(summaries(now), now)
  const { token } = await cloud.tokens.create({ name: 'op', role: 'operator' })
  return { cloud, token }
}

/** GET an API path with a bearer token: status and JSON body */
async function get(base: string, path: string, token: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })
  return { status: res.status, body: await res.json() }
}

describe('cloud training, driven from outside', () => {
  it('fogline train --node n1 publishes a better model once, then keeps it; a bad call exits non-zero', async () => {
    const { cloud, token } = await trainingCloud({})
    const auth = ['--url', cloud.httpUrl, '--token', token]
    const first = await fogline(['train', '--node', 'n1', ...auth])
    expect(first.err).toBe('')
    expect(first.code).toBe(0)
    expect(first.out).toMatch(/^published desired-state version 1 \(0 summary windows left out\)\n/)
    expect(first.out).toMatch(/\npressure +published +candidate nll [\d.-]+ flags 0; current -;/)
    const doc = (await get(cloud.httpUrl, '/api/desired/1', token)).body
    expect(doc.target).toEqual({ node: 'n1' })
    const model = doc.doc.models.pressure
    expect(model).toMatchObject({ kind: 'gaussian', version: 1 })
    expect(Object.keys(model.sensors).sort()).toEqual(['p1', 'p2'])
    expect(model.sensors.p1.mean).toBeCloseTo(50, 0)
    expect(model.sensors.p2.mean).toBeCloseTo(52, 0)

    // the same data again: the candidate is no better than the model in force, nothing is published
    const again = await fogline(['train', '--node', 'n1', '--json', ...auth])
    expect(again.code).toBe(0)
    const r = JSON.parse(again.out)
    expect(r.published).toBeNull()
    expect(r.models.map((m: { name: string; outcome: string }) => `${m.name}:${m.outcome}`)).toEqual([
      'pressure:kept',
    ])

    const neither = await fogline(['train', ...auth])
    expect(neither.code).not.toBe(0)
    expect(neither.err).toMatch(/--node ID or --group G/)
    const noToken = await fogline(['train', '--node', 'n1', '--url', cloud.httpUrl, '--token', 'wrong'])
    expect(noToken.code).not.toBe(0)
    expect(noToken.out).toBe('')
  })

  it('the schedule in the cloud config trains its targets at the cron slot, on the cloud clock', async () => {
    // 03:00:30 UTC; the schedule says 03:15 every day
    const clock = fakeClock(Date.UTC(2026, 0, 5, 3, 0, 30))
    const { cloud, token } = await trainingCloud({ schedule: '15 3 * * *', targets: [{ node: 'n1' }] }, clock)
    const versions = async () => (await get(cloud.httpUrl, '/api/desired?node=n1', token)).body.versions
    await clock.advanceAsync(10 * MIN) // 03:10: not yet
    expect(await versions()).toEqual([])
    await clock.advanceAsync(6 * MIN) // 03:16: the 03:15 slot has passed
    const doc = await until(async () => {
      const r = await get(cloud.httpUrl, '/api/desired/1', token)
      return r.status === 200 ? r.body : null
    }, 'the scheduled run published version 1')
    expect(doc.doc.models.pressure).toMatchObject({ kind: 'gaussian', version: 1 })
    // trained at the slot's check on the cloud's clock, not the wall clock
    expect(doc.doc.models.pressure.trainedAt).toBe(Date.UTC(2026, 0, 5, 3, 15, 30))
    await clock.advanceAsync(60 * MIN) // no second run the same day
    expect(await versions()).toHaveLength(1)
  })
})
