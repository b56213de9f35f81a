import type { Batch, WireRecord } from '@fogline/protocol'
import type { EventRow, InsertResult, SummaryRow } from './types.js'

/** A record the store cannot keep (its body is not a summary/event); dead-lettered, never stored. */
export interface BadRecord {
  seq: number
  reason: string
}

const isNum = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v)
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0

function numMap(v: unknown): Record<string, number> | null {
  if (!v || typeof v !== 'object') return null
  const out: Record<string, number> = {}
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'number') out[k] = x
  return Object.keys(out).length ? out : null
}

/** Map a wire record of stream 'summary' to a row, or say why it cannot be one. */
export function toSummaryRow(nodeId: string, r: WireRecord): SummaryRow | BadRecord {
  const b = r.body as Record<string, unknown>
  if (!isStr(b.sensorId) || !isStr(b.metric))
    return { seq: r.seq, reason: 'summary needs sensorId and metric' }
  if (!isNum(b.start) || !isNum(b.end) || !isNum(b.count) || b.count < 0)
    return { seq: r.seq, reason: 'summary needs numeric start, end and count' }
  const count = b.count
  const mean = isNum(b.mean) ? b.mean : isNum(b.sum) && count > 0 ? b.sum / count : Number.NaN
  const sum = isNum(b.sum) ? b.sum : mean * count
  const min = isNum(b.min) ? b.min : mean
  const max = isNum(b.max) ? b.max : mean
  if (count > 0 && (!Number.isFinite(sum) || !Number.isFinite(min) || !Number.isFinite(max)))
    return { seq: r.seq, reason: 'summary needs finite min, max and mean or sum' }
  return {
    ...rowHead(nodeId, 'summary', r.seq, b),
    // whole milliseconds and counts: the stores keep them as integers and bucket by integer division
    start: Math.round(b.start),
    end: Math.round(b.end),
    count: Math.round(count),
    min: Number.isFinite(min) ? min : 0,
    max: Number.isFinite(max) ? max : 0,
    mean: Number.isFinite(mean) ? mean : 0,
    sum: Number.isFinite(sum) ? sum : 0,
    aggs: numMap(b.aggs),
  }
}

export function toEventRow(nodeId: string, r: WireRecord): EventRow | BadRecord {
  const b = r.body as Record<string, unknown>
  if (!isStr(b.sensorId) || !isStr(b.metric) || !isStr(b.name))
    return { seq: r.seq, reason: 'event needs sensorId, metric and name' }
  return {
    ...rowHead(nodeId, 'event', r.seq, b),
    ts: Math.round(isNum(b.ts) ? b.ts : r.ts),
    kind: isStr(b.kind) ? b.kind : 'info',
    name: b.name,
    value: isNum(b.value) ? b.value : 0,
    severity: isStr(b.severity) ? b.severity : null,
    detail: b.detail && typeof b.detail === 'object' ? (b.detail as Record<string, unknown>) : null,
  }
}

export interface RawRow {
  nodeId: string
  seq: number
  ts: number
  body: string
}

export interface SplitBatch {
  summaries: SummaryRow[]
  events: EventRow[]
  raw: RawRow[]
  bad: BadRecord[]
  /** every seq of the batch (stored, duplicate or bad): all of them are acked */
  seqs: number[]
  /** (pipeline|sensor|metric|start|end) keys of summaries flagged as corrections */
  corrections: SummaryRow[]
}

/** Split a decoded batch into typed rows and records that cannot be stored. */
export function splitBatch(batch: Batch): SplitBatch {
  const out: SplitBatch = { summaries: [], events: [], raw: [], bad: [], seqs: [], corrections: [] }
  for (const r of batch.records) {
    out.seqs.push(r.seq)
    if (batch.stream === 'summary') {
      const row = toSummaryRow(batch.nodeId, r)
      if ('reason' in row) out.bad.push(row)
      else {
        out.summaries.push(row)
        if ((r.body as { correction?: unknown }).correction === true) out.corrections.push(row)
      }
    } else if (batch.stream === 'event') {
      const row = toEventRow(batch.nodeId, r)
      if ('reason' in row) out.bad.push(row)
      else out.events.push(row)
    } else {
      out.raw.push({ nodeId: batch.nodeId, seq: r.seq, ts: r.ts, body: JSON.stringify(r.body) })
    }
  }
  return out
}

export function clampLimit(limit: number | undefined, def: number, max: number): number {
  if (limit === undefined || !Number.isFinite(limit) || limit <= 0) return def
  return Math.min(Math.floor(limit), max)
}

/** What a batch did before anything is written: every seq acked, the bad records named, nothing stored yet. */
export const emptyResult = (parts: SplitBatch): InsertResult => ({
  seqs: parts.seqs,
  bad: parts.bad,
  inserted: 0,
  duplicates: 0,
  summaries: [],
  events: [],
})

/** the fields every stored summary and event starts with */
function rowHead<S extends 'summary' | 'event'>(
  nodeId: string,
  stream: S,
  seq: number,
  b: Record<string, unknown>,
) {
  const pipelineId = isStr(b.pipelineId) ? b.pipelineId : ''
  return { nodeId, stream, seq, pipelineId, sensorId: b.sensorId as string, metric: b.metric as string }
}
