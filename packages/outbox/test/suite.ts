import type { Clock, OutboxConfigInput } from '@fogline/protocol'
import { fakeClock, tempDir } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { AppendItem, Outbox } from '../src/index.js'

export interface SuiteContext {
  /** a folder owned by the test; reopening with the same dir must find the same outbox */
  dir: string
  config?: OutboxConfigInput
  clock?: Clock
}
export type OutboxFactory = (ctx: SuiteContext) => Promise<Outbox>

export function summaryBody(i: number, sensor = 's1', width = 60_000): Record<string, unknown> {
  return {
    pipelineId: 'p1',
    sensorId: sensor,
    metric: 'temp',
    start: i * width,
    end: (i + 1) * width,
    count: 10 + (i % 3),
    min: i % 17,
    max: (i % 17) + 5 + (i % 4),
    sum: (10 + (i % 3)) * ((i % 17) + 2.5),
    mean: (i % 17) + 2.5,
  }
}

const droppedTotal = (ob: Outbox) => Object.values(ob.stats().dropped).reduce((a, b) => a + b, 0)
/** the accounting every implementation keeps: nothing leaves without being counted */
export function expectConserved(ob: Outbox): void {
  const s = ob.stats()
  expect(s.records).toBe(s.appended - s.acked - droppedTotal(ob))
}

/**
 * The outbox conformance suite (append, read, ack, state, expire, degrade, reopen). Every Outbox
 * implementation runs it: `runOutboxSuite('sqlite', (ctx) => openSqliteOutbox({ path: join(ctx.dir, 'o.db'), ...ctx }))`.
 */
export function runOutboxSuite(name: string, factory: OutboxFactory): void {
  const open = async (ctx: Partial<SuiteContext> = {}) => {
    const dir = ctx.dir ?? newDir()
    const ob = await factory({ ...ctx, dir })
    onTestFinished(() => ob.close())
    return { ob, dir }
  }
  const newDir = () => {
    const d = tempDir()
    onTestFinished(() => d.remove())
    return d.path
  }

  describe(`outbox conformance: ${name}`, () => {
    it('append assigns seqs per stream, +1, in order, and resolves once committed', async () => {
      const { ob } = await open()
      const r = await ob.append([
        { stream: 'summary', ts: 1, body: summaryBody(1) },
        { stream: 'event', ts: 2, body: { name: 'e' } },
        { stream: 'summary', ts: 3, body: summaryBody(2) },
      ])
      expect(r).toEqual([
        { stream: 'summary', seq: 1 },
        { stream: 'event', seq: 1 },
        { stream: 'summary', seq: 2 },
      ])
      const r2 = await ob.append([{ stream: 'summary', ts: 4, body: summaryBody(3) }])
      expect(r2).toEqual([{ stream: 'summary', seq: 3 }])
      expect(ob.lastSeq('summary')).toBe(3)
      expect(ob.stats().appended).toBe(4)
    })

    it('concurrent appends share one group commit', async () => {
      const { ob } = await open({ config: { commitInterval: 20 } })
      const before = ob.stats().commits
      const all = await Promise.all(
        Array.from({ length: 200 }, (_, i) => ob.append([{ stream: 'raw', ts: i, body: { v: i } }])),
      )
      expect(all.map((r) => r[0]!.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
      expect(ob.stats().commits - before).toBeLessThanOrEqual(2)
    })

    it('read returns seqs after afterSeq ascending, bounded by max, maxBytes and untilSeq', async () => {
      const { ob } = await open()
      await ob.append(
        Array.from({ length: 50 }, (_, i) => ({
          stream: 'raw' as const,
          ts: i,
          body: { v: i, pad: 'x'.repeat(50) },
        })),
      )
      expect(ob.read('raw', 0, 10).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect(ob.read('raw', 45, 10).map((r) => r.seq)).toEqual([46, 47, 48, 49, 50])
      expect(ob.read('raw', 0, 100, undefined, { untilSeq: 3 }).map((r) => r.seq)).toEqual([1, 2, 3])
      const one = ob.read('raw', 0, 1)[0]!
      expect(one.body).toEqual({ v: 0, pad: 'x'.repeat(50) })
      expect(one.bytes).toBeGreaterThan(50)
      const byBytes = ob.read('raw', 0, 100, one.bytes * 3)
      expect(byBytes.length).toBe(3)
      // at least one record even when it alone is over maxBytes
      expect(ob.read('raw', 0, 100, 1).length).toBe(1)
      expect(ob.read('event', 0, 10)).toEqual([])
    })

    it('ack deletes seqs or ranges, counts them, and tolerates seqs already gone', async () => {
      const { ob } = await open()
      await ob.append(
        Array.from({ length: 10 }, (_, i) => ({ stream: 'summary' as const, ts: i, body: summaryBody(i) })),
      )
      expect(ob.ack('summary', [[1, 3]])).toBe(3)
      expect(ob.ack('summary', [5, 7])).toBe(2)
      expect(ob.ack('summary', [[1, 5]])).toBe(1)
      expect(ob.read('summary', 0, 100).map((r) => r.seq)).toEqual([6, 8, 9, 10])
      expect(ob.stats().acked).toBe(6)
      expect(ob.stats().records).toBe(4)
      expectConserved(ob)
    })

    it('state is written in the same transaction as the records and survives reopen', async () => {
      const { ob, dir } = await open()
      await ob.append([{ stream: 'summary', ts: 1, body: summaryBody(1) }], {
        state: { ckpt: { windows: [1, 2] } },
      })
      await ob.append([], { state: { other: 'x' } })
      await ob.putState('k', { a: 1 })
      expect(ob.getState('ckpt')).toEqual({ windows: [1, 2] })
      await ob.close()
      const { ob: ob2 } = await open({ dir })
      expect(ob2.getState('ckpt')).toEqual({ windows: [1, 2] })
      expect(ob2.getState('other')).toBe('x')
      expect(ob2.getState('k')).toEqual({ a: 1 })
      expect(ob2.getState('missing')).toBeUndefined()
    })

    it('seq survives reopen and is never reused, even after every record was acked', async () => {
      const { ob, dir } = await open()
      await ob.append(Array.from({ length: 5 }, (_, i) => ({ stream: 'event' as const, ts: i, body: { i } })))
      ob.ack('event', [[1, 5]])
      expect(ob.stats().records).toBe(0)
      await ob.close()
      const { ob: ob2 } = await open({ dir })
      const r = await ob2.append([{ stream: 'event', ts: 9, body: { i: 9 } }])
      expect(r[0]!.seq).toBe(6)
      expect(ob2.stats().appended).toBe(6)
      expect(ob2.stats().acked).toBe(5)
    })

    it('reopen keeps unacked records, their bodies and the counters', async () => {
      const { ob, dir } = await open()
      await ob.append(
        Array.from({ length: 20 }, (_, i) => ({ stream: 'summary' as const, ts: i, body: summaryBody(i) })),
      )
      ob.ack('summary', [[1, 10]])
      await ob.close()
      const { ob: ob2 } = await open({ dir })
      expect(ob2.read('summary', 0, 100).map((r) => r.seq)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20])
      expect(ob2.read('summary', 10, 1)[0]!.body).toEqual(summaryBody(10))
      expect(ob2.stats().records).toBe(10)
      expectConserved(ob2)
    })

    it('expired records (TTL per stream) are never read and are counted', async () => {
      // the one fake clock: TTLs read it; group commit keeps real time (the outbox's commitClock)
      const clock = fakeClock()
      const { ob } = await open({ clock, config: { ttl: { raw: '1m' } } })
      const now = clock.now()
      await ob.append([
        { stream: 'raw', ts: now - 120_000, body: { v: 1 } },
        { stream: 'raw', ts: now - 10_000, body: { v: 2 } },
        { stream: 'raw', ts: now - 90_000, body: { v: 3 } },
        { stream: 'summary', ts: now - 3_600_000, body: summaryBody(1) },
      ])
      expect(ob.read('raw', 0, 10).map((r) => r.body.v)).toEqual([2])
      clock.advance(60_000)
      expect(ob.read('raw', 0, 10)).toEqual([])
      expect(ob.stats().dropped['expired-raw']).toBe(3)
      // no TTL on summaries: kept however old
      expect(ob.read('summary', 0, 10).length).toBe(1)
      expectConserved(ob)
    })

    it('degrades when full: raw first, then summaries rolled up exactly, events last', async () => {
      const { ob } = await open({ config: { capacityRecords: 400, lowWater: 0.9, rollupFactor: 10 } })
      const events = Array.from({ length: 50 }, (_, i) => ({
        stream: 'event' as const,
        ts: i,
        body: { name: 'e', i },
      }))
      const summaries = Array.from({ length: 300 }, (_, i) => ({
        stream: 'summary' as const,
        ts: i,
        body: summaryBody(i),
      }))
      const raw = Array.from({ length: 100 }, (_, i) => ({ stream: 'raw' as const, ts: i, body: { v: i } }))
      await ob.append([...events, ...summaries])
      await ob.append(raw)
      const s1 = ob.stats()
      // 450 > 400: raw goes first, down to the low-water mark (360), never touching summaries or events
      expect(s1.records).toBe(360)
      expect(s1.dropped['capacity-raw']).toBe(90)
      expect(s1.byStream.summary!.records).toBe(300)
      expect(s1.byStream.event!.records).toBe(50)
      expectConserved(ob)

      // more summaries: raw runs out, so the oldest summaries are rolled up into 10x windows
      const more = Array.from({ length: 200 }, (_, i) => ({
        stream: 'summary' as const,
        ts: 300 + i,
        body: summaryBody(300 + i),
      }))
      await ob.append(more)
      const s2 = ob.stats()
      expect(s2.byStream.raw!.records).toBe(0)
      expect(s2.byStream.event!.records).toBe(50)
      expect(s2.dropped['rollup-summary']).toBeGreaterThan(0)
      expect(s2.dropped['capacity-event']).toBeUndefined()
      expect(s2.records).toBeLessThanOrEqual(400)
      expectConserved(ob)
      const all = [...summaries, ...more].map((x) => x.body)
      const kept = ob.read('summary', 0, 10_000, undefined, { peek: true }).map((r) => r.body)
      const sumOf = (xs: Array<Record<string, unknown>>, k: string) =>
        xs.reduce((a, b) => a + (b[k] as number), 0)
      // exact: count and sum are preserved, min/max over all, mean = sum / count
      expect(sumOf(kept, 'count')).toBe(sumOf(all, 'count'))
      expect(sumOf(kept, 'sum')).toBeCloseTo(sumOf(all, 'sum'), 6)
      expect(Math.min(...kept.map((b) => b.min as number))).toBe(Math.min(...all.map((b) => b.min as number)))
      expect(Math.max(...kept.map((b) => b.max as number))).toBe(Math.max(...all.map((b) => b.max as number)))
      for (const b of kept.filter((k) => k.rolledUp)) {
        expect(b.end as number).toBe((b.start as number) + 600_000)
        expect(b.mean).toBeCloseTo((b.sum as number) / (b.count as number), 9)
      }
      const rolled = kept.filter((k) => k.rolledUp)
      expect(sumOf(rolled, 'rolledUp') - rolled.length).toBe(s2.dropped['rollup-summary'])
    })

    it('drops events only when nothing else is left, oldest first', async () => {
      const { ob } = await open({ config: { capacityRecords: 100, lowWater: 0.9 } })
      await ob.append(
        Array.from({ length: 120 }, (_, i) => ({ stream: 'event' as const, ts: i, body: { i } })),
      )
      const s = ob.stats()
      expect(s.records).toBe(90)
      expect(s.dropped['capacity-event']).toBe(30)
      expect(ob.read('event', 0, 1)[0]!.body).toEqual({ i: 30 })
      expectConserved(ob)
    })

    it('never degrades records already handed out for sending (they may be in flight)', async () => {
      const { ob } = await open({ config: { capacityRecords: 100, lowWater: 0.9 } })
      await ob.append(Array.from({ length: 50 }, (_, i) => ({ stream: 'raw' as const, ts: i, body: { i } })))
      const inFlight = ob.read('raw', 0, 20).map((r) => r.seq)
      await ob.append(
        Array.from({ length: 60 }, (_, i) => ({
          stream: 'raw' as const,
          ts: i,
          body: { i },
        })) as AppendItem[],
      )
      const left = ob.read('raw', 0, 1000, undefined, { peek: true }).map((r) => r.seq)
      for (const q of inFlight) expect(left).toContain(q)
      expect(ob.stats().dropped['capacity-raw']).toBe(20)
      expectConserved(ob)
    })

    it('bounds capacity by bytes too', async () => {
      const { ob } = await open({ config: { capacityBytes: 20_000 } })
      for (let k = 0; k < 10; k++)
        await ob.append(
          Array.from({ length: 50 }, (_, i) => ({
            stream: 'raw' as const,
            ts: i,
            body: { pad: 'y'.repeat(100) },
          })),
        )
      expect(ob.stats().bytes).toBeLessThanOrEqual(20_000)
      expect(ob.stats().dropped['capacity-raw']).toBeGreaterThan(0)
      expectConserved(ob)
    })
  })
}
