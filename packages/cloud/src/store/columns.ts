import type { RawRow } from './rows.js'
import type { EventRow, SummaryRow } from './types.js'

/** One stored column of a record table: its name, its PostgreSQL array type, and how to read it from a row. */
interface Col<R> {
  name: string
  pg: 'bigint' | 'text' | 'float8' | 'jsonb'
  get(r: R): unknown
}

const json = (v: unknown) => (v ? JSON.stringify(v) : null)

/** The columns summaries and events begin with: the record's seq and the pipeline, sensor and metric it is from. */
const FROM_COLUMNS: Col<SummaryRow | EventRow>[] = [
  { name: 'seq', pg: 'bigint', get: (r) => r.seq },
  { name: 'pipeline_id', pg: 'text', get: (r) => r.pipelineId },
  { name: 'sensor_id', pg: 'text', get: (r) => r.sensorId },
  { name: 'metric', pg: 'text', get: (r) => r.metric },
]

/**
 * The columns of each record table after `node_id` and before `received_at`, written once for both dialects
 * (SQLite: one prepared INSERT per row; PostgreSQL: one INSERT over unnest() of arrays per batch).
 */
export const RECORD_TABLES: {
  summaries: Col<SummaryRow>[]
  events: Col<EventRow>[]
  raw_records: Col<RawRow>[]
} = {
  summaries: [
    ...FROM_COLUMNS,
    { name: 'wstart', pg: 'bigint', get: (r) => Math.round(r.start) },
    { name: 'wend', pg: 'bigint', get: (r) => Math.round(r.end) },
    { name: 'cnt', pg: 'bigint', get: (r) => Math.round(r.count) },
    { name: 'vmin', pg: 'float8', get: (r) => r.min },
    { name: 'vmax', pg: 'float8', get: (r) => r.max },
    { name: 'vmean', pg: 'float8', get: (r) => r.mean },
    { name: 'vsum', pg: 'float8', get: (r) => r.sum },
    { name: 'aggs', pg: 'jsonb', get: (r) => json(r.aggs) },
  ],
  events: [
    ...FROM_COLUMNS,
    { name: 'ts', pg: 'bigint', get: (r) => Math.round(r.ts) },
    { name: 'kind', pg: 'text', get: (r) => r.kind },
    { name: 'name', pg: 'text', get: (r) => r.name },
    { name: 'value', pg: 'float8', get: (r) => r.value },
    { name: 'severity', pg: 'text', get: (r) => r.severity },
    { name: 'detail', pg: 'jsonb', get: (r) => json(r.detail) },
  ],
  raw_records: [
    { name: 'seq', pg: 'bigint', get: (r) => r.seq },
    { name: 'ts', pg: 'bigint', get: (r) => Math.round(r.ts) },
    { name: 'body', pg: 'jsonb', get: (r) => r.body },
  ],
}

export type RecordTable = keyof typeof RECORD_TABLES
type RowOf<T extends RecordTable> = T extends 'summaries'
  ? SummaryRow
  : T extends 'events'
    ? EventRow
    : RawRow

const names = (t: RecordTable) => RECORD_TABLES[t].map((c) => c.name).join(', ')

/** SQLite: `INSERT … VALUES (?, …)` of one row; run with `sqliteRowArgs`. */
export function sqliteInsertSql(t: RecordTable): string {
  const marks = ['?', ...RECORD_TABLES[t].map(() => '?'), '?'].join(', ')
  return `INSERT INTO ${t} (node_id, ${names(t)}, received_at) VALUES (${marks}) ON CONFLICT DO NOTHING`
}

export function sqliteRowArgs<T extends RecordTable>(
  t: T,
  nodeId: string,
  r: RowOf<T>,
  at: number,
): unknown[] {
  return [nodeId, ...(RECORD_TABLES[t] as readonly Col<RowOf<T>>[]).map((c) => c.get(r)), at]
}

/** A PostgreSQL statement and its parameters; `atParam` is the number of the received_at parameter. */
export interface PgInsert {
  sql: string
  params: unknown[]
  atParam: number
}

/** PostgreSQL: one INSERT of many rows over unnest() of one array per column, returning the new seqs. */
export function pgUnnestInsert<T extends RecordTable>(
  t: T,
  nodeId: string,
  rows: readonly RowOf<T>[],
  at: number,
): PgInsert {
  const cols = RECORD_TABLES[t] as readonly Col<RowOf<T>>[]
  const arrays = cols.map((c, i) => `$${i + 2}::${c.pg}[]`).join(', ')
  const atParam = cols.length + 2
  return {
    sql: `INSERT INTO ${t} (node_id, ${names(t)}, received_at)
      SELECT $1::text, *, $${atParam}::bigint FROM unnest(${arrays})
      ON CONFLICT DO NOTHING RETURNING seq`,
    params: [nodeId, ...cols.map((c) => rows.map((r) => c.get(r))), at],
    atParam,
  }
}
