import { clampLimit } from './rows.js'
import {
  DEFAULT_LIMIT,
  type DeadLetterRow,
  type EventQuery,
  type EventRow,
  MAX_LIMIT,
  type NodeRow,
  type SummaryQuery,
  type SummaryRow,
} from './types.js'

export type Dialect = 'sqlite' | 'postgres'

/**
 * Schema shared by the SQLite and PostgreSQL stores (types differ only where noted).
 * Column names avoid SQL keywords (start/end/count/min/max) so one text serves both dialects.
 */
export function schemaSql(dialect: Dialect): string[] {
  const int = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT'
  const real = dialect === 'sqlite' ? 'REAL' : 'DOUBLE PRECISION'
  const json = dialect === 'sqlite' ? 'TEXT' : 'JSONB'
  const blob = dialect === 'sqlite' ? 'BLOB' : 'BYTEA'
  const serial = dialect === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY'
  const noRowid = dialect === 'sqlite' ? ' WITHOUT ROWID' : ''
  return [
    `CREATE TABLE IF NOT EXISTS summaries (
      node_id TEXT NOT NULL, seq ${int} NOT NULL, pipeline_id TEXT NOT NULL, sensor_id TEXT NOT NULL, metric TEXT NOT NULL,
      wstart ${int} NOT NULL, wend ${int} NOT NULL, cnt ${int} NOT NULL, vmin ${real} NOT NULL, vmax ${real} NOT NULL,
      vmean ${real} NOT NULL, vsum ${real} NOT NULL, aggs ${json}, received_at ${int} NOT NULL,
      superseded ${int} NOT NULL DEFAULT 0,
      PRIMARY KEY (node_id, seq))${noRowid}`,
    'CREATE INDEX IF NOT EXISTS summaries_sensor ON summaries (sensor_id, metric, wstart)',
    'CREATE INDEX IF NOT EXISTS summaries_node_start ON summaries (node_id, wstart)',
    'CREATE INDEX IF NOT EXISTS summaries_start ON summaries (wstart)',
    `CREATE TABLE IF NOT EXISTS events (
      node_id TEXT NOT NULL, seq ${int} NOT NULL, pipeline_id TEXT NOT NULL, sensor_id TEXT NOT NULL, metric TEXT NOT NULL,
      ts ${int} NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, value ${real} NOT NULL, severity TEXT, detail ${json},
      received_at ${int} NOT NULL,
      PRIMARY KEY (node_id, seq))${noRowid}`,
    'CREATE INDEX IF NOT EXISTS events_ts ON events (ts)',
    `CREATE TABLE IF NOT EXISTS raw_records (
      node_id TEXT NOT NULL, seq ${int} NOT NULL, ts ${int} NOT NULL, body ${json} NOT NULL, received_at ${int} NOT NULL,
      PRIMARY KEY (node_id, seq))${noRowid}`,
    `CREATE TABLE IF NOT EXISTS dead_letters (
      id ${serial}, received_at ${int} NOT NULL, node_id TEXT, stream TEXT, seq ${int}, topic TEXT NOT NULL,
      code TEXT NOT NULL, reason TEXT NOT NULL, bytes ${int} NOT NULL, payload ${blob})`,
    // a record-level dead letter is written once even when its batch is resent
    'CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_record ON dead_letters (node_id, stream, seq) WHERE seq IS NOT NULL',
    `CREATE TABLE IF NOT EXISTS nodes (
      node_id TEXT PRIMARY KEY, group_name TEXT, declared_online ${int} NOT NULL, first_seen ${int} NOT NULL,
      last_seen ${int} NOT NULL, heartbeat ${json}, reported ${json}, reported_at ${int}, reported_seq ${int},
      summaries ${int} NOT NULL DEFAULT 0, events ${int} NOT NULL DEFAULT 0)`,
  ]
}

/** A heartbeat with the node's counters (not just a last will's {online:false}). */
export function isFullHeartbeat(body: Record<string, unknown>): boolean {
  return 'backlogRecords' in body || body.online !== false
}

/** Collects parameters and writes each one's placeholder for the dialect (`?` or `$n`). */
export class Params {
  readonly values: unknown[] = []
  constructor(private readonly dialect: Dialect) {}
  add(v: unknown): string {
    this.values.push(v)
    return this.dialect === 'sqlite' ? '?' : `$${this.values.length}`
  }
}

/**
 * SELECT for summaries; with a resolution, re-aggregates exactly per bucket in the database
 * (count and sum add, min/max of min/max, mean = sum / count). Newest rows are kept under the limit.
 */
export function summarySelect(q: SummaryQuery, dialect: Dialect): { sql: string; params: unknown[] } {
  const p = new Params(dialect)
  const where = ['superseded = 0']
  if (q.nodeId !== undefined) where.push(`node_id = ${p.add(q.nodeId)}`)
  if (q.sensorId !== undefined) where.push(`sensor_id = ${p.add(q.sensorId)}`)
  if (q.metric !== undefined) where.push(`metric = ${p.add(q.metric)}`)
  if (q.pipelineId !== undefined) where.push(`pipeline_id = ${p.add(q.pipelineId)}`)
  if (q.from !== undefined) where.push(`wstart >= ${p.add(Math.floor(q.from))}`)
  if (q.to !== undefined) where.push(`wstart < ${p.add(Math.floor(q.to))}`)
  const limit = clampLimit(q.limit, DEFAULT_LIMIT, MAX_LIMIT)
  const w = where.join(' AND ')
  if (q.resolution !== undefined) {
    // an integer literal, not a parameter: the same expression appears in SELECT and GROUP BY
    const res = Math.max(1, Math.floor(q.resolution))
    const bucket = `(wstart / ${res}) * ${res}`
    const sql = `SELECT node_id, MAX(seq) AS seq, pipeline_id, sensor_id, metric, ${bucket} AS wstart,
        ${bucket} + ${res} AS wend, SUM(cnt) AS cnt,
        MIN(CASE WHEN cnt > 0 THEN vmin END) AS vmin, MAX(CASE WHEN cnt > 0 THEN vmax END) AS vmax,
        SUM(vsum) AS vsum, NULL AS aggs
      FROM summaries WHERE ${w}
      GROUP BY node_id, pipeline_id, sensor_id, metric, ${bucket}
      ORDER BY wstart DESC, node_id DESC, MAX(seq) DESC LIMIT ${p.add(limit)}`
    return { sql, params: p.values }
  }
  const sql = `SELECT node_id, seq, pipeline_id, sensor_id, metric, wstart, wend, cnt, vmin, vmax, vmean, vsum, aggs
    FROM summaries WHERE ${w} ORDER BY wstart DESC, node_id DESC, seq DESC LIMIT ${p.add(limit)}`
  return { sql, params: p.values }
}

export function eventSelect(q: EventQuery, dialect: Dialect): { sql: string; params: unknown[] } {
  const p = new Params(dialect)
  const where = ['1 = 1']
  if (q.nodeId !== undefined) where.push(`node_id = ${p.add(q.nodeId)}`)
  if (q.sensorId !== undefined) where.push(`sensor_id = ${p.add(q.sensorId)}`)
  if (q.from !== undefined) where.push(`ts >= ${p.add(Math.floor(q.from))}`)
  if (q.to !== undefined) where.push(`ts < ${p.add(Math.floor(q.to))}`)
  const limit = clampLimit(q.limit, DEFAULT_LIMIT, MAX_LIMIT)
  const sql = `SELECT node_id, seq, pipeline_id, sensor_id, metric, ts, kind, name, value, severity, detail
    FROM events WHERE ${where.join(' AND ')} ORDER BY ts DESC, node_id DESC, seq DESC LIMIT ${p.add(limit)}`
  return { sql, params: p.values }
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v))
const parseJson = <T>(v: unknown): T | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? (JSON.parse(v) as T) : (v as T)

/** Row from summarySelect → SummaryRow (both dialects; pg returns BIGINT as string). */
export function mapSummary(r: Record<string, unknown>): SummaryRow {
  const count = num(r.cnt)
  const sum = num(r.vsum)
  return {
    nodeId: String(r.node_id),
    stream: 'summary',
    seq: num(r.seq),
    pipelineId: String(r.pipeline_id),
    sensorId: String(r.sensor_id),
    metric: String(r.metric),
    start: num(r.wstart),
    end: num(r.wend),
    count,
    min: r.vmin === null ? 0 : num(r.vmin),
    max: r.vmax === null ? 0 : num(r.vmax),
    mean: r.vmean !== undefined && r.vmean !== null ? num(r.vmean) : count > 0 ? sum / count : 0,
    sum,
    aggs: parseJson<Record<string, number>>(r.aggs),
  }
}

export function mapEvent(r: Record<string, unknown>): EventRow {
  return {
    nodeId: String(r.node_id),
    stream: 'event',
    seq: num(r.seq),
    pipelineId: String(r.pipeline_id),
    sensorId: String(r.sensor_id),
    metric: String(r.metric),
    ts: num(r.ts),
    kind: String(r.kind),
    name: String(r.name),
    value: num(r.value),
    severity: (r.severity as string | null) ?? null,
    detail: parseJson<Record<string, unknown>>(r.detail),
  }
}

export function mapNode(r: Record<string, unknown>): NodeRow {
  return {
    nodeId: String(r.node_id),
    group: (r.group_name as string | null) ?? null,
    declaredOnline: num(r.declared_online) === 1,
    firstSeen: num(r.first_seen),
    lastSeen: num(r.last_seen),
    heartbeat: parseJson(r.heartbeat),
    reported: parseJson(r.reported),
    reportedAt: r.reported_at === null || r.reported_at === undefined ? null : num(r.reported_at),
    summaries: num(r.summaries),
    events: num(r.events),
  }
}

export function mapDeadLetter(r: Record<string, unknown>): DeadLetterRow {
  return {
    id: num(r.id),
    receivedAt: num(r.received_at),
    nodeId: (r.node_id as string | null) ?? null,
    stream: (r.stream as string | null) ?? null,
    seq: r.seq === null || r.seq === undefined ? null : num(r.seq),
    topic: String(r.topic),
    code: String(r.code),
    reason: String(r.reason),
    bytes: num(r.bytes),
  }
}

/** SELECT rows of summaries/events by inclusive seq ranges of one node. */
export function bySeqSelect(
  nodeId: string,
  stream: 'summary' | 'event',
  ranges: ReadonlyArray<readonly [number, number]>,
  dialect: Dialect,
): { sql: string; params: unknown[] } {
  const p = new Params(dialect)
  const node = p.add(nodeId)
  const parts = ranges.map(([a, b]) => `seq BETWEEN ${p.add(a)} AND ${p.add(b)}`)
  const cols =
    stream === 'summary'
      ? 'node_id, seq, pipeline_id, sensor_id, metric, wstart, wend, cnt, vmin, vmax, vmean, vsum, aggs'
      : 'node_id, seq, pipeline_id, sensor_id, metric, ts, kind, name, value, severity, detail'
  const table = stream === 'summary' ? 'summaries' : 'events'
  const sql = `SELECT ${cols} FROM ${table} WHERE node_id = ${node} AND (${parts.join(' OR ') || '1 = 0'}) ORDER BY seq`
  return { sql, params: p.values }
}
