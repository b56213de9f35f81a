import { FoglineError, toRanges } from '@fogline/protocol'
import type pg from 'pg'
import { type PgInsert, pgUnnestInsert } from './columns.js'
import { DECLARED_BY_DATA, recordDeadLetter, touchNode } from './node-sql.js'
import { emptyResult, type SplitBatch, splitBatch } from './rows.js'
import type { InsertResult, Store, StoreChange } from './types.js'

type BatchIn = Parameters<Store['insertBatch']>[0]
type Row = Record<string, unknown>

/** Where a PostgreSQL store tells other replicas what it committed (NOTIFY on its schema's channel). */
export interface Notify {
  channel: string
  /** this store instance, so it can ignore its own notifications */
  origin: string
}

/** A NOTIFY payload; payloads are limited to 8000 bytes, so a long list of ranges becomes [lowest, highest]. */
export function notePayload(n: Notify, c: StoreChange): string {
  let text = JSON.stringify({ o: n.origin, ...c })
  if (text.length > 7900 && c.kind === 'rows') {
    const lo = c.ranges[0]![0]
    const hi = c.ranges.at(-1)![1]
    text = JSON.stringify({ o: n.origin, ...c, ranges: [[lo, hi]] })
  }
  return text
}

const notCommitted = (batch: BatchIn, cause: unknown) =>
  new FoglineError(
    'FOG_STORE_FAILED',
    `batch ${batch.batchId} not committed: ${(cause as Error).message}`,
    { nodeId: batch.nodeId, stream: batch.stream },
    { cause },
  )

/**
 * Store one batch in PostgreSQL: each batch is one transaction, rows are written with one multi-row INSERT
 * per table (unnest of arrays) and ON CONFLICT DO NOTHING for resends.
 */
export async function pgInsertBatch(
  pool: pg.Pool,
  n: Notify,
  batch: BatchIn,
  at: number,
): Promise<InsertResult> {
  const parts = splitBatch(batch)
  const simple = parts.bad.length === 0 && parts.corrections.length === 0 && parts.raw.length === 0
  if (simple && parts.summaries.length && !parts.events.length)
    return insertOneStream(pool, n, batch, parts, 'summary', at)
  if (simple && parts.events.length && !parts.summaries.length)
    return insertOneStream(pool, n, batch, parts, 'event', at)
  const c = await pool.connect()
  try {
    await c.query('BEGIN')
    const res = await insertParts(c, batch, parts, at)
    for (const [stream, rows] of [
      ['summary', res.summaries],
      ['event', res.events],
    ] as const)
      if (rows.length)
        await c.query('SELECT pg_notify($1, $2)', [
          n.channel,
          notePayload(n, {
            kind: 'rows',
            nodeId: batch.nodeId,
            stream,
            ranges: toRanges(rows.map((r) => r.seq)),
          }),
        ])
    await c.query('COMMIT')
    return res
  } catch (cause) {
    await c.query('ROLLBACK').catch(() => {})
    throw notCommitted(batch, cause)
  } finally {
    c.release()
  }
}

/** The statements of a mixed batch, inside the caller's transaction. */
async function insertParts(
  c: pg.PoolClient,
  batch: BatchIn,
  parts: SplitBatch,
  at: number,
): Promise<InsertResult> {
  const res = emptyResult(parts)
  const inserted = async (q: PgInsert) =>
    new Set((await c.query(q.sql, q.params)).rows.map((x: Row) => Number(x.seq)))
  if (parts.summaries.length) {
    const got = await inserted(pgUnnestInsert('summaries', batch.nodeId, parts.summaries, at))
    res.summaries = parts.summaries.filter((x) => got.has(x.seq))
    for (const x of parts.corrections)
      await c.query(
        `UPDATE summaries SET superseded = 1 WHERE node_id = $1 AND pipeline_id = $2 AND sensor_id = $3 AND metric = $4
         AND wstart = $5 AND wend = $6 AND seq < $7`,
        [x.nodeId, x.pipelineId, x.sensorId, x.metric, Math.round(x.start), Math.round(x.end), x.seq],
      )
  }
  if (parts.events.length) {
    const got = await inserted(pgUnnestInsert('events', batch.nodeId, parts.events, at))
    res.events = parts.events.filter((x) => got.has(x.seq))
  }
  const rawIns = parts.raw.length
    ? (await inserted(pgUnnestInsert('raw_records', batch.nodeId, parts.raw, at))).size
    : 0
  for (const b of parts.bad) {
    const s = recordDeadLetter('postgres', batch, b, at)
    await c.query(s.sql, s.params)
  }
  res.inserted = res.summaries.length + res.events.length + rawIns
  res.duplicates = parts.seqs.length - parts.bad.length - res.inserted
  const t = touchNode('postgres', batch.nodeId, at, res.summaries.length, res.events.length)
  await c.query(t.sql, t.params)
  return res
}

/** The common case, one stream and nothing else: one round trip instead of BEGIN, INSERT, counters, NOTIFY, COMMIT. */
async function insertOneStream(
  pool: pg.Pool,
  n: Notify,
  batch: BatchIn,
  parts: SplitBatch,
  only: 'summary' | 'event',
  at: number,
): Promise<InsertResult> {
  const ins =
    only === 'summary'
      ? pgUnnestInsert('summaries', batch.nodeId, parts.summaries, at)
      : pgUnnestInsert('events', batch.nodeId, parts.events, at)
  const q = oneStatement(ins, only, n)
  let rows: Row[]
  try {
    rows = (await pool.query(q.sql, q.params)).rows as Row[]
  } catch (cause) {
    throw notCommitted(batch, cause)
  }
  const ranges = JSON.parse(String(rows[0]?.ranges ?? '[]')) as Array<[number, number]>
  const stored = (seq: number) => ranges.some(([a, b]) => seq >= a && seq <= b)
  const res = emptyResult(parts)
  if (only === 'summary') res.summaries = parts.summaries.filter((x) => stored(x.seq))
  else res.events = parts.events.filter((x) => stored(x.seq))
  res.inserted = res.summaries.length + res.events.length
  res.duplicates = parts.seqs.length - res.inserted
  return res
}

/**
 * A batch of one stream with nothing to dead-letter or supersede, in ONE statement (its own transaction, one
 * round trip): insert, the node's counters, and the NOTIFY for other replicas, which returns the inserted
 * seqs as ranges. NOTIFY payloads are limited to 8000 bytes: past that only [lowest, highest] is sent.
 */
function oneStatement(ins: PgInsert, stream: 'summary' | 'event', n: Notify): PgInsert {
  const k = ins.params.length
  const at = `$${ins.atParam}::bigint`
  const count = '(SELECT count(*) FROM ins)'
  const head = `'o', $${k + 2}::text, 'kind', 'rows', 'nodeId', $1::text, 'stream', '${stream}'`
  const sql = `WITH ins AS (${ins.sql}),
    up AS (INSERT INTO nodes (node_id, declared_online, first_seen, last_seen, summaries, events)
      SELECT $1::text, 1, ${at}, ${at}, ${stream === 'summary' ? count : '0'}, ${stream === 'event' ? count : '0'}
      ON CONFLICT (node_id) DO UPDATE SET ${DECLARED_BY_DATA}, last_seen = GREATEST(nodes.last_seen, excluded.last_seen),
        summaries = nodes.summaries + excluded.summaries, events = nodes.events + excluded.events),
    rng AS (SELECT min(seq) AS a, max(seq) AS b FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq) AS g FROM ins) t GROUP BY g),
    agg AS (SELECT json_agg(json_build_array(a, b) ORDER BY a) AS ranges, min(a) AS lo, max(b) AS hi FROM rng)
    SELECT agg.ranges::text AS ranges,
      CASE WHEN agg.ranges IS NULL THEN NULL
        WHEN length(agg.ranges::text) < 7000 THEN pg_notify($${k + 1}, json_build_object(${head}, 'ranges', agg.ranges)::text)
        ELSE pg_notify($${k + 1}, json_build_object(${head}, 'ranges', json_build_array(json_build_array(agg.lo, agg.hi)))::text)
      END AS notified
    FROM agg`
  return { sql, params: [...ins.params, n.channel, n.origin], atParam: ins.atParam }
}
