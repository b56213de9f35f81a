import { startFaultProxy, tempDir, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { event, fogSide, startTestCloud, summary } from './helpers.js'

const sum = (xs: Array<Record<string, unknown>>, k: string) => xs.reduce((a, b) => a + (b[k] as number), 0)

describe('capacity under a long outage', () => {
  it('degrades raw first, rolls summaries up with exact counts, keeps every event; counters match what was removed', async () => {
    const d = tempDir('fogline-faults-', onTestFinished)
    const cloud = await startTestCloud(d)
    const proxy = await startFaultProxy(Number(new URL(cloud.url).port))
    onTestFinished(() => proxy.close())
    proxy.cut() // the outage starts before the node does
    const { outbox, uplink } = await fogSide(d, [proxy.url], {
      outbox: { capacityRecords: 1000, lowWater: 0.9, rollupFactor: 10 },
    })
    uplink.start()
    // a long outage compressed: 60 "minutes" of 1-s summaries for 4 sensors, raw readings and a few events
    const appendedSummaries: Array<Record<string, unknown>> = []
    let events = 0
    let raws = 0
    for (let m = 0; m < 60; m++) {
      const items = []
      for (let k = 0; k < 10; k++)
        for (const sensor of ['a', 'b', 'c', 'd']) {
          const body = summary(m * 10 + k, sensor)
          appendedSummaries.push(body)
          items.push({ stream: 'summary' as const, ts: Date.now(), body })
        }
      for (let k = 0; k < 30; k++) items.push({ stream: 'raw' as const, ts: Date.now(), body: { m, k } })
      raws += 30
      if (m % 6 === 0) {
        items.push({ stream: 'event' as const, ts: Date.now(), body: event(m) })
        events++
      }
      await outbox.append(items)
    }
    const s = outbox.stats()
    expect(s.records).toBeLessThanOrEqual(1000)
    // raw went first each time the cap was hit: only raw appended after the last degradation is left
    expect(s.dropped['capacity-raw']).toBeGreaterThan(raws * 0.75)
    expect(s.dropped['capacity-raw']! + s.byStream.raw!.records).toBe(raws)
    expect(s.dropped['rollup-summary']).toBeGreaterThan(0)
    expect(s.dropped['capacity-summary']).toBeUndefined()
    expect(s.dropped['capacity-event']).toBeUndefined()
    expect(s.byStream.event!.records).toBe(events)
    const droppedTotal = Object.values(s.dropped).reduce((a, b) => a + b, 0)
    expect(s.records).toBe(s.appended - droppedTotal)

    // the link comes back: what is left drains, and the store holds exactly the reduced set
    proxy.pass()
    await waitFor(() => outbox.stats().records === 0, 'outbox drained after the outage', 20_000)
    const stored = (await cloud.cloud.store.querySummaries({
      nodeId: 'n1',
      limit: 100_000,
    })) as unknown as Array<Record<string, unknown>>
    expect(stored.length).toBe(appendedSummaries.length - s.dropped['rollup-summary']!)
    // exact roll-up: the readings counted and summed are all there, per sensor
    for (const sensor of ['a', 'b', 'c', 'd']) {
      const mine = stored.filter((b) => b.sensorId === sensor)
      const orig = appendedSummaries.filter((b) => b.sensorId === sensor)
      expect(sum(mine, 'count')).toBe(sum(orig, 'count'))
      expect(sum(mine, 'sum')).toBeCloseTo(sum(orig, 'sum'), 6)
      expect(Math.max(...mine.map((b) => b.max as number))).toBe(
        Math.max(...orig.map((b) => b.max as number)),
      )
    }
    // the cloud keeps how many windows a rolled-up summary stands for
    expect(stored.some((b) => ((b.aggs as Record<string, number> | null)?.rolledUp ?? 0) >= 10)).toBe(true)
    expect(cloud.seqs('n1', 'event').length).toBe(events)
    expect(cloud.seqs('n1', 'raw').length).toBe(raws - s.dropped['capacity-raw']!)
    expect(cloud.deadLetters('n1')).toBe(0)
  })
})
