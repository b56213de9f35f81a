import { msgpack, type OutboxConfig, pack } from '@fogline/protocol'
import type { RangeSet } from './ranges.js'
import { rollupSummaries } from './rollup.js'
import { OUTBOX_STREAMS, type OutboxStream } from './types.js'

/** What the degrader needs from the outbox; all calls happen inside the append transaction. */
export interface DegradeContext {
  config: OutboxConfig
  usage: Map<OutboxStream, { records: number; bytes: number }>
  /** seqs handed out for sending: never degraded (they may be in flight) */
  sent: Map<OutboxStream, RangeSet>
  totals(): { records: number; bytes: number }
  deleteSeq(stream: OutboxStream, seq: number, reason: string | null): boolean
  bump(counter: string, n: number): void
  /** oldest rows of a stream after `after`, by seq */
  headMeta(stream: OutboxStream, after: number, n: number): Array<{ seq: number; ts: number }>
  oldestBodies(after: number, n: number): Array<{ seq: number; ts: number; body: Buffer }>
  /** store a merged summary under a fresh seq */
  insertSummary(ts: number, body: Buffer): void
  warn(obj: object, msg: string): void
}

/**
 * TTL expiry and capacity degradation, in the stated order: raw first, then the oldest summaries rolled
 * up into coarser windows, then summaries, reported and events, oldest first; each removal counted.
 */
export function createDegrader(c: DegradeContext): { enforce(now: number): void } {
  const { config } = c
  let lastSweep = Number.NEGATIVE_INFINITY

  const overCap = () => {
    const t = c.totals()
    return t.records > config.capacityRecords || t.bytes > config.capacityBytes
  }
  const overLow = () => {
    const t = c.totals()
    return (
      t.records > config.capacityRecords * config.lowWater || t.bytes > config.capacityBytes * config.lowWater
    )
  }
  /** drop the oldest records of a stream that were never handed out for sending */
  const dropOldest = (s: OutboxStream, reason: string) => {
    let after = 0
    const ranges = c.sent.get(s)!
    while (overLow()) {
      const rows = c.headMeta(s, after, 1000)
      if (rows.length === 0) return
      for (const r of rows) {
        after = r.seq
        if (!ranges.has(r.seq)) c.deleteSeq(s, r.seq, reason)
        if (!overLow()) return
      }
    }
  }
  return {
    enforce(now) {
      if (now - lastSweep >= 1000) {
        lastSweep = now
        sweepExpired(c, now)
      }
      if (!overCap()) return
      dropOldest('raw', 'capacity-raw')
      if (overLow()) rollupOldest(c, overLow)
      if (overLow()) dropOldest('summary', 'capacity-summary')
      if (overLow()) dropOldest('reported', 'capacity-reported')
      if (overLow()) dropOldest('event', 'capacity-event')
      if (overCap())
        c.warn(c.totals(), 'outbox over capacity with only records in flight; they leave when acked')
    },
  }
}

/** delete every record past its stream's TTL, oldest first */
function sweepExpired(c: DegradeContext, now: number): void {
  for (const s of OUTBOX_STREAMS) {
    const ttl = c.config.ttl[s]
    if (ttl === undefined || c.usage.get(s)!.records === 0) continue
    const cutoff = now - ttl
    let after = 0
    for (;;) {
      // seq order is close to ts order, so expired records sit at the head; out-of-order ones are caught by read()
      const rows = c.headMeta(s, after, 2000)
      let gone = 0
      for (const r of rows) if (r.ts < cutoff && c.deleteSeq(s, r.seq, `expired-${s}`)) gone++
      if (rows.length < 2000 || gone < rows.length) break
      after = rows[rows.length - 1]!.seq
    }
  }
}

/** merge the oldest unsent summaries into coarser windows until under the low-water mark or no progress */
function rollupOldest(c: DegradeContext, overLow: () => boolean): void {
  const ranges = c.sent.get('summary')!
  let progressed = true
  while (progressed && overLow()) {
    progressed = false
    let after = 0
    for (;;) {
      const rows = c.oldestBodies(after, 2000)
      if (rows.length === 0) break
      after = rows[rows.length - 1]!.seq
      const cand = []
      for (const r of rows) {
        if (ranges.has(r.seq)) continue
        try {
          cand.push({ seq: r.seq, ts: r.ts, body: msgpack.unpack(r.body) as Record<string, unknown> })
        } catch {}
      }
      for (const g of rollupSummaries(cand, c.config.rollupFactor)) {
        for (const seq of g.seqs) c.deleteSeq('summary', seq, null)
        c.bump('dropped:rollup-summary', g.seqs.length - 1)
        // a fresh seq: the members' seqs were never sent, but a fresh one cannot collide with anything the
        // cloud holds even if a sent-mark was lost in a power cut (see docs/delivery.md)
        c.insertSummary(g.ts, pack(g.body))
        progressed = true
      }
      if (!overLow()) return
    }
  }
}
