import { type Batch, type DataStream, heartbeatSeq, willSeq } from '@fogline/protocol'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { Store } from '../src/index.js'
import { summaryBody } from './helpers.js'

/** Opens a fresh, empty store; the suite closes it. */
export type StoreFactory = () => Promise<Store>

const T0 = 1_700_000_000_000

function batch(
  nodeId: string,
  stream: DataStream,
  seqs: number[],
  body: (seq: number) => Record<string, unknown>,
): Batch & { stream: DataStream } {
  return {
    nodeId,
    stream,
    batchId: `b-${seqs[0]}`,
    sentAt: T0,
    records: seqs.map((seq) => ({ seq, ts: T0 + seq, body: body(seq) })),
  }
}

function eventBody(seq: number) {
  return {
    pipelineId: 'p1',
    sensorId: seq % 2 ? 's1' : 's2',
    metric: 'temperature',
    ts: T0 + seq * 1000,
    kind: 'enter',
    name: 'too-hot',
    value: 30 + seq,
    severity: 'warning',
    detail: { limit: 30 },
  }
}

/**
 * The one conformance suite every Store implementation runs (SQLite, PostgreSQL).
 * @example runStoreSuite('sqlite', () => openSqliteStore({ path: join(tempDir(), 'c.db') }))
 */
export function runStoreSuite(name: string, factory: StoreFactory): void {
  const open = async () => {
    const s = await factory()
    onTestFinished(() => s.close())
    return s
  }

  describe(`Store conformance: ${name}`, () => {
    it('insertBatch is idempotent on (nodeId, stream, seq): a resend stores nothing and reports duplicates', async () => {
      const s = await open()
      const b = batch('n1', 'summary', [1, 2, 3], (q) => summaryBody(q))
      const first = await s.insertBatch(b, T0)
      expect(first).toMatchObject({ inserted: 3, duplicates: 0, seqs: [1, 2, 3], bad: [] })
      expect(first.summaries.map((r) => r.seq)).toEqual([1, 2, 3])
      const again = await s.insertBatch({ ...b, batchId: 'resend' }, T0 + 5)
      expect(again).toMatchObject({ inserted: 0, duplicates: 3, seqs: [1, 2, 3] })
      expect(again.summaries).toEqual([])
      // overlapping resend: only the new seq is stored
      const overlap = await s.insertBatch(
        batch('n1', 'summary', [3, 4], (q) => summaryBody(q)),
        T0,
      )
      expect(overlap).toMatchObject({ inserted: 1, duplicates: 1 })
      expect(await s.countRecords({ nodeId: 'n1', stream: 'summary' })).toBe(4)
      expect(await s.countRecords({ nodeId: 'n2' })).toBe(0)
      expect(await s.maxSeq('n1', 'summary')).toBe(4)
      expect(await s.maxSeq('n1', 'event')).toBe(0)
      // the same seq on another node or stream is a different record
      await s.insertBatch(
        batch('n2', 'summary', [1], (q) => summaryBody(q)),
        T0,
      )
      await s.insertBatch(batch('n1', 'event', [1], eventBody), T0)
      expect(await s.countRecords({})).toBe(6)
    })

    it('concurrent inserts of overlapping batches still store each record once', async () => {
      const s = await open()
      const seqs = Array.from({ length: 50 }, (_, i) => i + 1)
      await Promise.all(
        [0, 1, 2, 3].map(() =>
          s.insertBatch(
            batch('n1', 'summary', seqs, (q) => summaryBody(q)),
            T0,
          ),
        ),
      )
      expect(await s.countRecords({ nodeId: 'n1', stream: 'summary' })).toBe(50)
    })

    it('queries summaries by node, sensor, metric and time range, oldest first, limit keeps the newest', async () => {
      const s = await open()
      await s.insertBatch(
        batch('n1', 'summary', [1, 2, 3, 4], (q) => summaryBody(q, { sensorId: q <= 2 ? 's1' : 's2' })),
        T0,
      )
      await s.insertBatch(
        batch('n2', 'summary', [1, 2], (q) => summaryBody(q, { metric: 'humidity', aggs: { p95: 9.5 } })),
        T0,
      )
      expect((await s.querySummaries()).length).toBe(6)
      expect((await s.querySummaries({ nodeId: 'n1' })).map((r) => r.seq)).toEqual([1, 2, 3, 4])
      expect((await s.querySummaries({ nodeId: 'n1', sensorId: 's2' })).map((r) => r.seq)).toEqual([3, 4])
      const hum = await s.querySummaries({ metric: 'humidity' })
      expect(hum.map((r) => [r.nodeId, r.seq])).toEqual([
        ['n2', 1],
        ['n2', 2],
      ])
      expect(hum[0]!.aggs).toEqual({ p95: 9.5 })
      // from inclusive, to exclusive, on the window start
      const ranged = await s.querySummaries({ nodeId: 'n1', from: T0 + 2000, to: T0 + 4000 })
      expect(ranged.map((r) => r.seq)).toEqual([2, 3])
      const bySeq = await s.recordsBySeq('n1', 'summary', [[2, 3]])
      expect(bySeq).toEqual(
        (await s.querySummaries({ nodeId: 'n1' })).filter((r) => r.seq === 2 || r.seq === 3),
      )
      const limited = await s.querySummaries({ nodeId: 'n1', limit: 2 })
      expect(limited.map((r) => r.seq)).toEqual([3, 4])
      const r1 = (await s.querySummaries({ nodeId: 'n1', limit: 1 }))[0]!
      expect(r1).toEqual({
        nodeId: 'n1',
        stream: 'summary',
        seq: 4,
        pipelineId: 'p1',
        sensorId: 's2',
        metric: 'temperature',
        start: T0 + 4000,
        end: T0 + 5000,
        count: 10,
        min: 4,
        max: 13,
        mean: 8.5,
        sum: 85,
        aggs: null,
      })
    })

    it('downsamples exactly: count and sum add, min/max combine, mean = sum / count per bucket', async () => {
      const s = await open()
      // 24 one-second windows with varied values over two sensors; buckets of 5 s
      const vals = (q: number) => ({ count: (q % 4) + 1, min: -q, max: q * 3, sum: q * 7 + 0.25 })
      await s.insertBatch(
        batch(
          'n1',
          'summary',
          Array.from({ length: 24 }, (_, i) => i + 1),
          (q) => {
            const v = vals(q)
            return summaryBody(q, { sensorId: q % 2 ? 'a' : 'b', ...v, mean: v.sum / v.count })
          },
        ),
        T0,
      )
      const ref = new Map<string, { count: number; min: number; max: number; sum: number; seq: number }>()
      for (let q = 1; q <= 24; q++) {
        const start = T0 + q * 1000
        const bucket = Math.floor(start / 5000) * 5000
        const key = `${q % 2 ? 'a' : 'b'}|${bucket}`
        const v = vals(q)
        const r = ref.get(key) ?? { count: 0, min: Infinity, max: -Infinity, sum: 0, seq: 0 }
        ref.set(key, {
          count: r.count + v.count,
          min: Math.min(r.min, v.min),
          max: Math.max(r.max, v.max),
          sum: r.sum + v.sum,
          seq: Math.max(r.seq, q),
        })
      }
      const rows = await s.querySummaries({ nodeId: 'n1', resolution: 5000 })
      expect(rows.length).toBe(ref.size)
      for (const r of rows) {
        const e = ref.get(`${r.sensorId}|${r.start}`)!
        expect(e).toBeDefined()
        expect(r.end - r.start).toBe(5000)
        expect(r).toMatchObject({ count: e.count, min: e.min, max: e.max, seq: e.seq })
        expect(r.sum).toBeCloseTo(e.sum, 9)
        expect(r.mean).toBeCloseTo(e.sum / e.count, 9)
      }
      // ascending by bucket; the sum of counts is preserved
      expect(rows.map((r) => r.start)).toEqual([...rows.map((r) => r.start)].sort((a, b) => a - b))
      const total = (await s.querySummaries({ nodeId: 'n1' })).reduce((a, r) => a + r.count, 0)
      expect(rows.reduce((a, r) => a + r.count, 0)).toBe(total)
      // filters apply before bucketing
      const onlyA = await s.querySummaries({ nodeId: 'n1', sensorId: 'a', resolution: 60_000 })
      expect(onlyA.every((r) => r.sensorId === 'a')).toBe(true)
    })

    it('a correction replaces the earlier summary of the same window in queries', async () => {
      const s = await open()
      await s.insertBatch(
        batch('n1', 'summary', [1, 2], (q) => summaryBody(1, { count: q === 1 ? 10 : 5 })),
        T0,
      )
      await s.insertBatch(
        batch('n1', 'summary', [3], () => summaryBody(1, { count: 12, correction: true })),
        T0,
      )
      const rows = await s.querySummaries({ nodeId: 'n1' })
      expect(rows.map((r) => [r.seq, r.count])).toEqual([[3, 12]])
      expect(await s.countRecords({ nodeId: 'n1', stream: 'summary' })).toBe(3)
    })

    it('stores events and raw records, and queries events by node, sensor and time', async () => {
      const s = await open()
      const res = await s.insertBatch(batch('n1', 'event', [1, 2, 3], eventBody), T0)
      expect(res.events.map((e) => e.seq)).toEqual([1, 2, 3])
      await s.insertBatch(batch('n2', 'event', [1], eventBody), T0)
      await s.insertBatch(
        batch('n1', 'raw', [1, 2], (q) => ({ sensorId: 's1', metric: 'temperature', value: q, ts: T0 })),
        T0,
      )
      expect(await s.countRecords({ stream: 'raw' })).toBe(2)
      expect(await s.countRecords({ nodeId: 'n1' })).toBe(5)
      const ev = await s.queryEvents({ nodeId: 'n1' })
      expect(ev.map((e) => e.seq)).toEqual([1, 2, 3])
      expect(ev[0]).toEqual({
        nodeId: 'n1',
        stream: 'event',
        seq: 1,
        pipelineId: 'p1',
        sensorId: 's1',
        metric: 'temperature',
        ts: T0 + 1000,
        kind: 'enter',
        name: 'too-hot',
        value: 31,
        severity: 'warning',
        detail: { limit: 30 },
      })
      expect((await s.queryEvents({ sensorId: 's2' })).map((e) => [e.nodeId, e.seq])).toEqual([['n1', 2]])
      expect((await s.queryEvents({ from: T0 + 2000, to: T0 + 3000 })).map((e) => e.seq)).toEqual([2])
      expect((await s.queryEvents({ limit: 1 })).map((e) => e.seq)).toEqual([3])
      // rows by seq ranges (live forwarding between replicas reads them this way)
      expect(
        (
          await s.recordsBySeq('n1', 'event', [
            [1, 1],
            [3, 9],
          ])
        ).map((e) => e.seq),
      ).toEqual([1, 3])
      expect(await s.recordsBySeq('n1', 'event', [])).toEqual([])
    })

    it('dead-letters bad records inside the batch transaction, once per record, and lists dead letters newest first', async () => {
      const s = await open()
      const b = batch('n1', 'summary', [1, 2], (q) => (q === 1 ? summaryBody(q) : { sensorId: 's1' }))
      const r = await s.insertBatch(b, T0)
      expect(r).toMatchObject({ inserted: 1, duplicates: 0, seqs: [1, 2] })
      expect(r.bad).toEqual([{ seq: 2, reason: expect.stringMatching(/metric/) }])
      await s.insertBatch(b, T0 + 1)
      const id = await s.addDeadLetter({
        receivedAt: T0 + 2,
        nodeId: null,
        topic: 'fogline/v1/x/up/nope',
        code: 'FOG_TOPIC_INVALID',
        reason: 'bad topic',
        payload: Buffer.from('abc'),
      })
      expect(id).toBeGreaterThan(0)
      const all = await s.listDeadLetters()
      expect(all.map((d) => d.code)).toEqual(['FOG_TOPIC_INVALID', 'FOG_BATCH_INVALID'])
      expect(all[0]).toMatchObject({
        nodeId: null,
        seq: null,
        topic: 'fogline/v1/x/up/nope',
        reason: 'bad topic',
        bytes: 3,
      })
      expect(all[1]).toMatchObject({
        nodeId: 'n1',
        stream: 'summary',
        seq: 2,
        topic: 'fogline/v1/n1/up/summary',
      })
      expect((await s.listDeadLetters({ nodeId: 'n1' })).length).toBe(1)
      expect((await s.listDeadLetters({ limit: 1 })).length).toBe(1)
    })

    it('keeps the fleet registry: heartbeat, last will, reported state and per-node counters', async () => {
      const s = await open()
      expect(await s.getNode('n1')).toBeNull()
      const hb = {
        ts: 1,
        online: true,
        group: 'line-1',
        backlogRecords: 7,
        backlogBytes: 700,
        oldestUnsentAgeMs: 1234,
        etaSec: 3,
        dropped: { raw: 2 },
        configVersion: 4,
        diskFreeBytes: 99,
        lastError: null,
        sent: 10,
        acked: 3,
        readingsPerSec: 5,
      }
      await s.recordHeartbeat('n1', hb, T0)
      let n = (await s.getNode('n1'))!
      expect(n).toMatchObject({
        nodeId: 'n1',
        group: 'line-1',
        declaredOnline: true,
        firstSeen: T0,
        lastSeen: T0,
        heartbeat: hb,
        summaries: 0,
      })
      // the last will carries only {online:false}: the node is declared offline, the last counters and lastSeen stay
      await s.recordHeartbeat('n1', { ts: 2, online: false, group: 'line-1' }, T0 + 10_000)
      n = (await s.getNode('n1'))!
      expect(n).toMatchObject({ declaredOnline: false, lastSeen: T0, heartbeat: hb })
      // data from the node means it is connected again
      await s.insertBatch(
        batch('n1', 'summary', [1, 2], (q) => summaryBody(q)),
        T0 + 20_000,
      )
      await s.insertBatch(batch('n1', 'event', [1], eventBody), T0 + 20_000)
      await s.insertBatch(
        batch('n1', 'summary', [1, 2], (q) => summaryBody(q)),
        T0 + 20_001,
      )
      n = (await s.getNode('n1'))!
      expect(n).toMatchObject({ declaredOnline: true, lastSeen: T0 + 20_001, summaries: 2, events: 1 })
      await s.recordReported('n1', { appliedVersion: 5, status: 'applied' }, T0 + 30_000)
      n = (await s.getNode('n1'))!
      expect(n).toMatchObject({
        reported: { appliedVersion: 5, status: 'applied' },
        reportedAt: T0 + 30_000,
        lastSeen: T0 + 30_000,
      })
      // a graceful goodbye carries full counters and replaces them
      await s.recordHeartbeat('n1', { ...hb, online: false, backlogRecords: 0 }, T0 + 40_000)
      n = (await s.getNode('n1'))!
      expect(n).toMatchObject({ declaredOnline: false, lastSeen: T0 + 40_000 })
      expect(n.heartbeat?.backlogRecords).toBe(0)
      // reported records from the outbox carry a seq: a late resend of an older one never rolls the state back
      expect(await s.recordReported('n1', { appliedVersion: 6 }, T0 + 41_000, 10)).toBe(true)
      expect(await s.recordReported('n1', { appliedVersion: 5 }, T0 + 42_000, 9)).toBe(false)
      expect(await s.recordReported('n1', { appliedVersion: 6 }, T0 + 42_000, 10)).toBe(false)
      expect((await s.getNode('n1'))!.reported).toEqual({ appliedVersion: 6 })
      expect(await s.recordReported('n1', { appliedVersion: 7 }, T0 + 43_000, 11)).toBe(true)
      expect((await s.getNode('n1'))!.reported).toEqual({ appliedVersion: 7 })
      await s.recordHeartbeat('n0', { online: true, group: 'g' }, T0)
      expect((await s.listNodes()).map((x) => x.nodeId)).toEqual(['n0', 'n1'])
    })

    it('ordered heartbeats: late and duplicate ones in any order never move the fleet view back; a stopped node stays offline', async () => {
      const s = await open()
      const boot = T0 - 60_000
      // heartbeats of one boot on connection 1: readingsIn grows with seq, the node's time with it
      const hb = (conn: number, n: number, b = boot) => ({
        ts: b + conn * 100_000 + n * 1000,
        boot: b,
        seq: heartbeatSeq(conn, n),
        online: true,
        group: 'g',
        backlogRecords: 0,
        readingsIn: conn * 1_000_000 + n * 100,
      })
      const will = (conn: number, b = boot) => ({
        ts: b,
        boot: b,
        seq: willSeq(conn),
        online: false,
        group: 'g',
      })
      const view = async () => {
        const r = (await s.getNode('n1'))!
        return { online: r.declaredOnline, readingsIn: r.heartbeat?.readingsIn, lastSeen: r.lastSeen }
      }
      const now = T0 + 1_000_000 // the cloud receives everything late: lastSeen is the node's own time
      expect(await s.recordHeartbeat('n1', hb(1, 5), now)).toBe(true)
      const at5 = await view()
      expect(at5).toEqual({ online: true, readingsIn: 1_000_500, lastSeen: hb(1, 5).ts })
      // late and duplicate ones, shuffled: none applies, nothing moves back
      for (const n of [3, 5, 0, 4, 1, 5, 2]) expect(await s.recordHeartbeat('n1', hb(1, n), now)).toBe(false)
      expect(await view()).toEqual(at5)
      // newer ones apply; lastSeen is bounded by the receive time when the node's clock runs ahead
      expect(await s.recordHeartbeat('n1', hb(1, 9), hb(1, 9).ts - 500)).toBe(true)
      expect(await view()).toEqual({ online: true, readingsIn: 1_000_900, lastSeen: hb(1, 9).ts - 500 })
      // the node dies: its last will marks it offline and keeps its last counters
      expect(await s.recordHeartbeat('n1', will(1), now)).toBe(true)
      const dead = await view()
      expect(dead).toEqual({ online: false, readingsIn: 1_000_900, lastSeen: hb(1, 9).ts - 500 })
      // a heartbeat of that connection handled after the will (a frozen replica) does not bring it back, nor
      // does a late batch, nor a duplicate will
      expect(await s.recordHeartbeat('n1', hb(1, 8), now)).toBe(false)
      expect(await s.recordHeartbeat('n1', hb(1, 10), now)).toBe(false)
      await s.insertBatch(
        batch('n1', 'summary', [1], (q) => summaryBody(q)),
        now,
      )
      expect(await s.recordHeartbeat('n1', will(1), now)).toBe(false)
      expect((await view()).online).toBe(false)
      // it reconnects (connection 2): online again; the old will arriving late changes nothing
      expect(await s.recordHeartbeat('n1', hb(2, 0), now)).toBe(true)
      expect(await s.recordHeartbeat('n1', will(1), now)).toBe(false)
      expect(await view()).toMatchObject({ online: true, readingsIn: 2_000_000 })
      // a new boot is newer than everything of the old one; the old boot's heartbeats are then all late
      expect(await s.recordHeartbeat('n1', hb(1, 0, boot + 500_000), now)).toBe(true)
      expect(await s.recordHeartbeat('n1', hb(2, 7), now)).toBe(false)
      expect(await s.recordHeartbeat('n1', will(2), now)).toBe(false)
      expect(await view()).toMatchObject({ online: true, readingsIn: 1_000_000 })
      // a graceful stop: the goodbye (a full heartbeat, online false) then late heartbeats: it stays offline
      const bye = { ...hb(1, 3, boot + 500_000), online: false }
      expect(await s.recordHeartbeat('n1', bye, now)).toBe(true)
      expect(await s.recordHeartbeat('n1', hb(1, 2, boot + 500_000), now)).toBe(false)
      expect(await view()).toMatchObject({ online: false, readingsIn: 1_000_300 })
    })

    it('retention rolls old summaries up to hourly (count, sum, min, max kept) and deletes the oldest; a second pass does nothing', async () => {
      const s = await open()
      const H = 3_600_000
      const hour0 = Math.floor(T0 / H) * H
      // 2 hours of 1-minute summaries for two sensors (240 rows), then 10 recent ones
      const minute = (i: number, sensorId: string) =>
        summaryBody(i, {
          sensorId,
          start: hour0 + (i % 120) * 60_000,
          end: hour0 + (i % 120) * 60_000 + 60_000,
          min: i,
          max: i + 1,
          sum: 10 * i,
          mean: i,
        })
      const old = Array.from({ length: 240 }, (_, i) => i + 1)
      await s.insertBatch(
        batch('n1', 'summary', old, (q) => minute(q - 1, q <= 120 ? 'a' : 'b')),
        T0,
      )
      const recent = Array.from({ length: 10 }, (_, i) => 241 + i)
      await s.insertBatch(
        batch('n1', 'summary', recent, (q) =>
          summaryBody(q, { start: hour0 + 10 * H + q * 60_000, end: hour0 + 10 * H + q * 60_000 + 60_000 }),
        ),
        T0,
      )
      const before = await s.querySummaries({ nodeId: 'n1', limit: 1000 })
      const total = (rows: typeof before) => rows.reduce((a, r) => a + r.count, 0)

      const r = await s.retain({ rollupBefore: hour0 + 2 * H, deleteBefore: 0 })
      expect(r).toEqual({ rolledUp: 240, hourly: 4, deleted: 0 })
      const after = await s.querySummaries({ nodeId: 'n1', limit: 1000 })
      expect(after).toHaveLength(4 + 10)
      expect(total(after)).toBe(total(before)) // every reading still counted
      const hourA0 = after.find((x) => x.sensorId === 'a' && x.start === hour0)!
      expect(hourA0).toMatchObject({
        end: hour0 + H,
        count: 600,
        min: 0,
        max: 60,
        sum: ((10 * (59 * 60)) / 2) * 1,
      })
      expect(hourA0.mean).toBeCloseTo(hourA0.sum / 600, 9)
      expect(hourA0.seq).toBeLessThan(0) // never a delivery seq
      expect(await s.maxSeq('n1', 'summary')).toBe(250)

      expect(await s.retain({ rollupBefore: hour0 + 2 * H, deleteBefore: 0 })).toEqual({
        rolledUp: 0,
        hourly: 0,
        deleted: 0,
      })
      expect(await s.retain({ rollupBefore: hour0 + 2 * H, deleteBefore: hour0 + 2 * H })).toEqual({
        rolledUp: 0,
        hourly: 0,
        deleted: 4,
      })
      expect(await s.querySummaries({ nodeId: 'n1', limit: 1000 })).toHaveLength(10)
    })
  })
}
