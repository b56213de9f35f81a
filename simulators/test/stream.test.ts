import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fakeClock, startTestBroker, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type GroundTruth, startSimulators } from '../src/index.js'
import { brokerWithSubscriber, parseReading, subscribeAll } from './helpers.js'

describe('simulator stream matches the scenario (real aedes, real mqtt.js subscriber)', () => {
  it('rates within 5 %, anomalies at their scheduled times, malformed at the set rate, dropouts silent', async () => {
    const { broker, sub, dir } = await brokerWithSubscriber()
    const gtFile = join(dir, 'truth.jsonl')
    const clock = fakeClock()
    const sim = await startSimulators(
      {
        url: broker.url,
        seed: 42,
        groundTruth: gtFile,
        sensors: [
          {
            id: 'spike',
            rate: 50,
            base: 20,
            noise: 0.1,
            anomalies: [{ kind: 'spike', at: 500, duration: 200, magnitude: 100 }],
          },
          {
            id: 'level',
            rate: 50,
            base: 20,
            noise: 0.1,
            anomalies: [{ kind: 'level', at: '1s', duration: 2000, magnitude: -15 }],
          },
          {
            id: 'stuck',
            rate: 50,
            base: 20,
            noise: 1,
            anomalies: [{ kind: 'stuck', at: 500, duration: 500 }],
          },
          {
            id: 'drift',
            rate: 50,
            base: 20,
            noise: 0.01,
            anomalies: [{ kind: 'drift', at: 400, duration: 1000, magnitude: 50 }],
          },
          { id: 'drop', rate: 50, base: 20, dropouts: [{ at: 500, duration: 500 }] },
          { id: 'bad', rate: 200, malformedRate: 0.2 },
          { id: 'fleet', count: 20, rate: 20, profile: 'temperature', metric: 'temp' },
          { id: 'car', rate: 20, profile: 'gps', base: 50, metric: 'speed' },
        ],
      },
      { clock },
    )
    // 2 s of schedule on the fake clock, socket I/O running between the ticks
    await clock.advanceAsync(2000)
    await sim.stop()
    const stoppedAt = clock.now()
    const st = sim.stats()
    await waitFor(() => sub.got.length >= st.published + st.malformed, 'every sent reading received')
    expect(sub.got.length).toBe(st.published + st.malformed)

    const by = new Map<string, Array<{ value: number; ts: number; lat?: number; lon?: number }>>()
    let bad = 0
    let badOnBad = 0
    for (const m of sub.got) {
      const id = m.topic.split('/')[1]!
      const r = parseReading(m.payload)
      if (!r) {
        bad++
        if (id === 'bad') badOnBad++
        continue
      }
      by.set(id, [...(by.get(id) ?? []), r])
    }
    expect(bad).toBe(st.malformed)
    // stats().bySensor counts exactly the well-formed readings the subscriber saw
    for (const [id, n] of Object.entries(st.bySensor)) expect(by.get(id)?.length ?? 0, id).toBe(n)
    expect(Object.keys(st.bySensor)).toHaveLength(27)

    // rates within 5 % over the run's (fake) time
    const secs = (stoppedAt - sim.startedAt) / 1000
    for (const id of ['spike', 'level', 'fleet-0', 'fleet-19']) {
      const rate = id.startsWith('fleet') ? 20 : 50
      expect(Math.abs(st.bySensor[id]! / secs / rate - 1), id).toBeLessThan(0.05)
    }

    // malformed at the set rate: binomial, 4 sigma
    const nBad = st.bySensor.bad! + badOnBad
    const sigma = Math.sqrt(nBad * 0.2 * 0.8)
    expect(Math.abs(badOnBad - nBad * 0.2)).toBeLessThan(4 * sigma)
    expect(badOnBad).toBeGreaterThan(0)

    // ground truth file: one line per scheduled anomaly/dropout, at the scheduled times
    const gt = readFileSync(gtFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as GroundTruth)
    const t0 = sim.startedAt
    expect(gt.map((g) => [g.sensor, g.kind, g.start - t0, g.end - t0])).toEqual([
      ['spike', 'spike', 500, 700],
      ['level', 'level', 1000, 3000],
      ['stuck', 'stuck', 500, 1000],
      ['drift', 'drift', 400, 1400],
      ['drop', 'dropout', 500, 1000],
    ])
    expect(gt[0]!.params).toMatchObject({ magnitude: 100, topic: 'sensors/spike/temperature' })
    const inWin = (g: GroundTruth, ts: number) => ts >= g.start && ts < g.end

    // anomalies visible in the values, and only inside their windows
    for (const r of by.get('spike')!) expect(r.value > 100, String(r.ts - t0)).toBe(inWin(gt[0]!, r.ts))
    for (const r of by.get('level')!) expect(r.value < 10, String(r.ts - t0)).toBe(inWin(gt[1]!, r.ts))
    const stuck = by.get('stuck')!.filter((r) => inWin(gt[2]!, r.ts))
    expect(stuck.length).toBeGreaterThan(20)
    expect(new Set(stuck.map((r) => r.value)).size).toBe(1)
    expect(
      new Set(
        by
          .get('stuck')!
          .filter((r) => !inWin(gt[2]!, r.ts))
          .map((r) => r.value),
      ).size,
    ).toBeGreaterThan(20)
    const drift = by.get('drift')!
    const lateDrift = drift.filter((r) => r.ts - t0 > 1300 && r.ts - t0 < 1400)
    expect(lateDrift.every((r) => r.value > 60)).toBe(true)
    expect(drift.filter((r) => r.ts - t0 < 400).every((r) => Math.abs(r.value - 20) < 1)).toBe(true)
    // dropouts silent, readings before and after
    const drop = by.get('drop')!
    expect(drop.filter((r) => inWin(gt[4]!, r.ts))).toEqual([])
    expect(drop.some((r) => r.ts < gt[4]!.start)).toBe(true)
    expect(drop.some((r) => r.ts >= gt[4]!.end)).toBe(true)
    // gps has lat/lon
    const car = by.get('car')!
    expect(car[0]).toHaveProperty('lat')
    expect(car[0]).toHaveProperty('lon')
    // per-sensor timestamps are spaced by the period
    const fleet = by.get('fleet-3')!
    for (let i = 1; i < fleet.length; i++)
      expect(Math.abs(fleet[i]!.ts - fleet[i - 1]!.ts - 50)).toBeLessThanOrEqual(1)
  }, 15_000)

  it('an injected clock drives the schedule: exactly rate × seconds readings per sensor', async () => {
    const { broker, sub } = await brokerWithSubscriber()
    const clock = fakeClock()
    const sim = await startSimulators(
      { url: broker.url, sensors: [{ id: 'm', count: 50, rate: 10 }] },
      { clock },
    )
    await clock.advanceAsync(10_000)
    await sim.stop()
    const st = sim.stats()
    expect(st.published).toBe(50 * 100)
    for (const n of Object.values(st.bySensor)) expect(n).toBe(100)
    await waitFor(() => sub.got.length >= 5000, '5000 readings received')
    const ts = sub.got.map((m) => parseReading(m.payload)!.ts)
    expect(Math.min(...ts)).toBeGreaterThanOrEqual(sim.startedAt)
    expect(Math.max(...ts)).toBeLessThanOrEqual(sim.startedAt + 10_000)
  })

  it('the same seed reproduces the stream; another seed does not', async () => {
    const { broker } = await brokerWithSubscriber()
    const runOnce = async (seed: number) => {
      const sub = await subscribeAll(broker.url)
      onTestFinished(() => sub.close())
      const clock = fakeClock()
      const sensors = [
        {
          id: 'v',
          count: 3,
          rate: 20,
          profile: 'vibration' as const,
          noise: 2,
          amplitude: 30,
          malformedRate: 0.1,
        },
        { id: 'p', rate: 20, profile: 'power' as const, base: 100, amplitude: 400 },
      ]
      const sim = await startSimulators({ url: broker.url, seed, sensors }, { clock })
      await clock.advanceAsync(3000)
      await sim.stop()
      const st = sim.stats()
      await waitFor(() => sub.got.length >= st.published + st.malformed, 'every sent reading received')
      // order per topic is stable; order across sensors follows the tick loop
      return sub.got.map((m) => `${m.topic} ${m.payload.toString('base64')}`)
    }
    const a = await runOnce(7)
    const b = await runOnce(7)
    const c = await runOnce(8)
    expect(a.length).toBeGreaterThan(200)
    expect(b).toEqual(a)
    expect(c).not.toEqual(a)
  })

  it('config errors are coded: duplicate ids and unknown keys', async () => {
    await expect(
      startSimulators({ url: 'mqtt://127.0.0.1:1', sensors: [{ id: 'x', bogus: 1 } as never] }),
    ).rejects.toMatchObject({
      code: 'FOG_CONFIG_INVALID',
      where: { field: 'sensors[0].bogus' },
    })
    const broker = await startTestBroker()
    onTestFinished(() => broker.close())
    await expect(
      startSimulators({ url: broker.url, sensors: [{ id: 'x' }, { id: 'x' }] }),
    ).rejects.toMatchObject({ code: 'FOG_CONFIG_INVALID' })
  })
})
