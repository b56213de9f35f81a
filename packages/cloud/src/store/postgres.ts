import { randomBytes } from 'node:crypto'
import { type DataStream, FoglineError, toRanges } from '@fogline/protocol'
import pg from 'pg'
import { retentionSql } from './retention.js'
import { clampLimit, splitBatch } from './rows.js'
import {
  bySeqSelect,
  DEAD_LETTER_MAX_PAYLOAD,
  eventSelect,
  isFullHeartbeat,
  mapDeadLetter,
  mapEvent,
  mapNode,
  mapSummary,
  schemaSql,
  summarySelect,
} from './sql.js'
import type { EventRow, InsertResult, Store, StoreChange, SummaryRow } from './types.js'

type Row = Record<string, unknown>
const TABLE: Record<DataStream, string> = { summary: 'summaries', event: 'events', raw: 'raw_records' }

export interface PostgresStoreOptions {
  /** postgres://user@host:port/db */
  url: string
  /** schema to create and use (tests use a unique one each run); default 'public' */
  schema?: string
  poolSize?: number
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/

/**
 * PostgreSQL store for several aggregator replicas: each batch is one transaction, rows are written
 * with one multi-row INSERT per table (unnest of arrays) and ON CONFLICT DO NOTHING for resends.
 * @example const store = await openPostgresStore({ url: 'postgres://postgres@127.0.0.1:5432/test' })
 */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<Store> {
  const schema = opts.schema ?? 'public'
  if (!IDENT.test(schema))
    throw new FoglineError('FOG_CONFIG_INVALID', `schema "${schema}" must match ${IDENT}`, {
      field: 'store.schema',
    })
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? 4,
    options: `-c search_path=${schema}`,
    connectionTimeoutMillis: 5000,
  })
  pool.on('error', () => {}) // an idle client's socket error is reported on its next query
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
    for (const s of schemaSql('postgres')) await pool.query(s)
  } catch (cause) {
    await pool.end().catch(() => {})
    throw new FoglineError(
      'FOG_STORE_FAILED',
      `cannot open the PostgreSQL store: ${(cause as Error).message}`,
      { url: redact(opts.url) },
      { cause },
    )
  }
  const all = async (sql: string, params: unknown[]) => (await pool.query(sql, params)).rows as Row[]
  // live changes for other replicas: NOTIFY is delivered on COMMIT, to listeners of this schema's channel only
  const origin = randomBytes(6).toString('hex')
  const channel = `fogline_${schema}`.slice(0, 63)
  const note = (c: StoreChange) => {
    let text = JSON.stringify({ o: origin, ...c })
    if (text.length > 7900 && c.kind === 'rows') {
      const lo = c.ranges[0]![0]
      const hi = c.ranges.at(-1)![1]
      text = JSON.stringify({ o: origin, ...c, ranges: [[lo, hi]] })
    }
    return text
  }

  async function insert(batch: Parameters<Store['insertBatch']>[0], at: number): Promise<InsertResult> {
    const parts = splitBatch(batch)
    const res: InsertResult = {
      seqs: parts.seqs,
      bad: parts.bad,
      inserted: 0,
      duplicates: 0,
      summaries: [],
      events: [],
    }
    const only =
      parts.bad.length === 0 && parts.corrections.length === 0 && parts.raw.length === 0
        ? parts.summaries.length && !parts.events.length
          ? 'summary'
          : parts.events.length && !parts.summaries.length
            ? 'event'
            : null
        : null
    if (only) {
      // the common case: one round trip instead of BEGIN, INSERT, counters, NOTIFY, COMMIT
      const ins =
        only === 'summary'
          ? summaryInsert(batch.nodeId, parts.summaries, at)
          : eventInsert(batch.nodeId, parts.events, at)
      const q = oneStatement(ins, only, channel, origin)
      let rows: Row[]
      try {
        rows = (await pool.query(q.sql, q.params)).rows as Row[]
      } catch (cause) {
        throw new FoglineError(
          'FOG_STORE_FAILED',
          `batch ${batch.batchId} not committed: ${(cause as Error).message}`,
          { nodeId: batch.nodeId, stream: batch.stream },
          { cause },
        )
      }
      const ranges = JSON.parse(String(rows[0]?.ranges ?? '[]')) as Array<[number, number]>
      const stored = (seq: number) => ranges.some(([a, b]) => seq >= a && seq <= b)
      if (only === 'summary') res.summaries = parts.summaries.filter((x) => stored(x.seq))
      else res.events = parts.events.filter((x) => stored(x.seq))
      res.inserted = res.summaries.length + res.events.length
      res.duplicates = parts.seqs.length - res.inserted
      return res
    }
    const c = await pool.connect()
    try {
      await c.query('BEGIN')
      if (parts.summaries.length) {
        const s = parts.summaries
        const q = summaryInsert(batch.nodeId, s, at)
        const r = await c.query(q.sql, q.params)
        const got = new Set(r.rows.map((x: Row) => Number(x.seq)))
        res.summaries = s.filter((x) => got.has(x.seq))
        for (const x of parts.corrections)
          await c.query(
            `UPDATE summaries SET superseded = 1 WHERE node_id = $1 AND pipeline_id = $2 AND sensor_id = $3 AND metric = $4
             AND wstart = $5 AND wend = $6 AND seq < $7`,
            [x.nodeId, x.pipelineId, x.sensorId, x.metric, Math.round(x.start), Math.round(x.end), x.seq],
          )
      }
      if (parts.events.length) {
        const e = parts.events
        const q = eventInsert(batch.nodeId, e, at)
        const r = await c.query(q.sql, q.params)
        const got = new Set(r.rows.map((x: Row) => Number(x.seq)))
        res.events = e.filter((x) => got.has(x.seq))
      }
      let rawIns = 0
      if (parts.raw.length) {
        const w = parts.raw
        const r = await c.query(
          `INSERT INTO raw_records (node_id, seq, ts, body, received_at)
           SELECT $1::text, *, $5::bigint FROM unnest($2::bigint[], $3::bigint[], $4::jsonb[]) ON CONFLICT DO NOTHING`,
          [batch.nodeId, w.map((x) => x.seq), w.map((x) => Math.round(x.ts)), w.map((x) => x.body), at],
        )
        rawIns = r.rowCount ?? 0
      }
      for (const b of parts.bad)
        await c.query(
          `INSERT INTO dead_letters (received_at, node_id, stream, seq, topic, code, reason, bytes)
           VALUES ($1, $2, $3, $4, $5, 'FOG_BATCH_INVALID', $6, 0) ON CONFLICT DO NOTHING`,
          [at, batch.nodeId, batch.stream, b.seq, `fogline/v1/${batch.nodeId}/up/${batch.stream}`, b.reason],
        )
      res.inserted = res.summaries.length + res.events.length + rawIns
      res.duplicates = parts.seqs.length - parts.bad.length - res.inserted
      await c.query(
        `INSERT INTO nodes (node_id, declared_online, first_seen, last_seen, summaries, events) VALUES ($1, 1, $2, $2, $3, $4)
         ON CONFLICT (node_id) DO UPDATE SET declared_online = 1, last_seen = GREATEST(nodes.last_seen, excluded.last_seen),
           summaries = nodes.summaries + excluded.summaries, events = nodes.events + excluded.events`,
        [batch.nodeId, at, res.summaries.length, res.events.length],
      )
      for (const [stream, rows] of [
        ['summary', res.summaries],
        ['event', res.events],
      ] as const)
        if (rows.length)
          await c.query('SELECT pg_notify($1, $2)', [
            channel,
            note({ kind: 'rows', nodeId: batch.nodeId, stream, ranges: toRanges(rows.map((r) => r.seq)) }),
          ])
      await c.query('COMMIT')
      return res
    } catch (cause) {
      await c.query('ROLLBACK').catch(() => {})
      throw new FoglineError(
        'FOG_STORE_FAILED',
        `batch ${batch.batchId} not committed: ${(cause as Error).message}`,
        { nodeId: batch.nodeId, stream: batch.stream },
        { cause },
      )
    } finally {
      c.release()
    }
  }

  return {
    kind: 'postgres',
    insertBatch: insert,
    async querySummaries(q = {}) {
      const { sql, params } = summarySelect(q, 'postgres')
      return (await all(sql, params)).map(mapSummary).reverse()
    },
    async queryEvents(q = {}) {
      const { sql, params } = eventSelect(q, 'postgres')
      return (await all(sql, params)).map(mapEvent).reverse()
    },
    async countRecords(q = {}) {
      const streams = q.stream ? [q.stream] : (Object.keys(TABLE) as DataStream[])
      let n = 0
      for (const s of streams) {
        const where = q.nodeId !== undefined ? ' WHERE node_id = $1' : ''
        const rows = await all(
          `SELECT COUNT(*) AS n FROM ${TABLE[s]}${where}`,
          q.nodeId !== undefined ? [q.nodeId] : [],
        )
        n += Number(rows[0]?.n ?? 0)
      }
      return n
    },
    async maxSeq(nodeId, stream) {
      const rows = await all(`SELECT MAX(seq) AS m FROM ${TABLE[stream]} WHERE node_id = $1`, [nodeId])
      return Number(rows[0]?.m ?? 0)
    },
    async addDeadLetter(d) {
      const rows = await all(
        `INSERT INTO dead_letters (received_at, node_id, stream, seq, topic, code, reason, bytes, payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id`,
        [
          d.receivedAt,
          d.nodeId,
          d.stream ?? null,
          d.seq ?? null,
          d.topic,
          d.code,
          d.reason,
          d.payload.length,
          Buffer.from(d.payload.subarray(0, DEAD_LETTER_MAX_PAYLOAD)),
        ],
      )
      return Number(rows[0]?.id ?? 0)
    },
    async listDeadLetters(q = {}) {
      const limit = clampLimit(q.limit, 1000, 10_000)
      const cols = 'id, received_at, node_id, stream, seq, topic, code, reason, bytes'
      const rows =
        q.nodeId !== undefined
          ? await all(`SELECT ${cols} FROM dead_letters WHERE node_id = $1 ORDER BY id DESC LIMIT $2`, [
              q.nodeId,
              limit,
            ])
          : await all(`SELECT ${cols} FROM dead_letters ORDER BY id DESC LIMIT $1`, [limit])
      return rows.map(mapDeadLetter)
    },
    async recordHeartbeat(nodeId, body, now) {
      const full = isFullHeartbeat(body)
      await pool.query(
        `INSERT INTO nodes (node_id, group_name, declared_online, first_seen, last_seen, heartbeat) VALUES ($1, $2, $3, $4, $4, $5)
         ON CONFLICT (node_id) DO UPDATE SET group_name = COALESCE(excluded.group_name, nodes.group_name),
           declared_online = excluded.declared_online,
           last_seen = CASE WHEN $6 THEN excluded.last_seen ELSE nodes.last_seen END,
           heartbeat = CASE WHEN $6 THEN excluded.heartbeat ELSE nodes.heartbeat END`,
        [
          nodeId,
          typeof body.group === 'string' ? body.group : null,
          body.online === false ? 0 : 1,
          now,
          JSON.stringify(body),
          full,
        ],
      )
      await pool.query('SELECT pg_notify($1, $2)', [channel, note({ kind: 'node', nodeId })])
    },
    async recordReported(nodeId, body, now, seq) {
      const r = await pool.query(
        `INSERT INTO nodes (node_id, declared_online, first_seen, last_seen, reported, reported_at, reported_seq)
         VALUES ($1, 1, $2, $2, $3, $2, $4)
         ON CONFLICT (node_id) DO UPDATE SET last_seen = excluded.last_seen, reported = excluded.reported,
           reported_at = excluded.reported_at, reported_seq = excluded.reported_seq
         WHERE excluded.reported_seq IS NULL OR nodes.reported_seq IS NULL OR excluded.reported_seq > nodes.reported_seq`,
        [nodeId, now, JSON.stringify(body), seq ?? null],
      )
      const applied = (r.rowCount ?? 0) > 0
      if (applied) await pool.query('SELECT pg_notify($1, $2)', [channel, note({ kind: 'node', nodeId })])
      return applied
    },
    async recordsBySeq(nodeId, stream, ranges) {
      const { sql, params } = bySeqSelect(nodeId, stream, ranges, 'postgres')
      return (await all(sql, params)).map((r): SummaryRow | EventRow =>
        stream === 'summary' ? mapSummary(r) : mapEvent(r),
      )
    },
    async watch(fn) {
      let stopped = false
      let current: pg.Client | null = null
      const retry = () => {
        // the LISTEN connection dropped (database restart): listen again; changes in between are not replayed
        if (!stopped) setTimeout(() => void listen().catch(retry), 1000).unref()
      }
      const listen = async () => {
        const client = new pg.Client({ connectionString: opts.url })
        client.on('error', () => {})
        client.on('notification', (m) => {
          if (m.channel !== channel || !m.payload) return
          try {
            const { o, ...change } = JSON.parse(m.payload) as StoreChange & { o: string }
            if (o !== origin) fn(change as StoreChange)
          } catch {}
        })
        await client.connect()
        await client.query(`LISTEN ${channel}`)
        client.once('end', retry)
        current = client
        if (stopped) await client.end()
      }
      await listen()
      return async () => {
        stopped = true
        await current?.end().catch(() => {})
      }
    },
    async listNodes() {
      return (await all('SELECT * FROM nodes ORDER BY node_id', [])).map(mapNode)
    },
    async getNode(nodeId) {
      const rows = await all('SELECT * FROM nodes WHERE node_id = $1', [nodeId])
      return rows[0] ? mapNode(rows[0]) : null
    },
    async retain(c) {
      const sql = retentionSql((i) => `$${i}::bigint`)
      const cl = await pool.connect()
      try {
        await cl.query('BEGIN')
        const hourly = (await cl.query(sql.rollup, [c.rollupBefore])).rowCount ?? 0
        const rolledUp = (await cl.query(sql.removeMerged, [c.rollupBefore])).rowCount ?? 0
        const deleted = (await cl.query(sql.remove, [c.deleteBefore])).rowCount ?? 0
        await cl.query('COMMIT')
        return { hourly, rolledUp, deleted }
      } catch (err) {
        await cl.query('ROLLBACK').catch(() => {})
        throw err
      } finally {
        cl.release()
      }
    },
    async close() {
      await pool.end()
    },
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')
}

interface InsertSql {
  sql: string
  params: unknown[]
  /** index of the received_at parameter ($n) */
  atParam: number
}

function summaryInsert(nodeId: string, s: SummaryRow[], at: number): InsertSql {
  return {
    atParam: 13,
    sql: `INSERT INTO summaries (node_id, seq, pipeline_id, sensor_id, metric, wstart, wend, cnt, vmin, vmax, vmean, vsum, aggs, received_at)
           SELECT $1::text, *, $13::bigint FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[],
             $9::float8[], $10::float8[], $11::float8[], $12::float8[], $14::jsonb[])
           ON CONFLICT DO NOTHING RETURNING seq`,
    params: [
      nodeId,
      s.map((x) => x.seq),
      s.map((x) => x.pipelineId),
      s.map((x) => x.sensorId),
      s.map((x) => x.metric),
      s.map((x) => Math.round(x.start)),
      s.map((x) => Math.round(x.end)),
      s.map((x) => Math.round(x.count)),
      s.map((x) => x.min),
      s.map((x) => x.max),
      s.map((x) => x.mean),
      s.map((x) => x.sum),
      at,
      s.map((x) => (x.aggs ? JSON.stringify(x.aggs) : null)),
    ],
  }
}

function eventInsert(nodeId: string, e: EventRow[], at: number): InsertSql {
  return {
    atParam: 12,
    sql: `INSERT INTO events (node_id, seq, pipeline_id, sensor_id, metric, ts, kind, name, value, severity, detail, received_at)
           SELECT $1::text, *, $12::bigint FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[],
             $9::float8[], $10::text[], $11::jsonb[])
           ON CONFLICT DO NOTHING RETURNING seq`,
    params: [
      nodeId,
      e.map((x) => x.seq),
      e.map((x) => x.pipelineId),
      e.map((x) => x.sensorId),
      e.map((x) => x.metric),
      e.map((x) => Math.round(x.ts)),
      e.map((x) => x.kind),
      e.map((x) => x.name),
      e.map((x) => x.value),
      e.map((x) => x.severity),
      e.map((x) => (x.detail ? JSON.stringify(x.detail) : null)),
      at,
    ],
  }
}

/**
 * A batch of one stream with nothing to dead-letter or supersede, in ONE statement (its own transaction, one
 * round trip): insert, the node's counters, and the NOTIFY for other replicas, which returns the inserted
 * seqs as ranges. NOTIFY payloads are limited to 8000 bytes: past that only [lowest, highest] is sent.
 */
function oneStatement(
  ins: InsertSql,
  stream: 'summary' | 'event',
  channel: string,
  origin: string,
): InsertSql {
  const n = ins.params.length
  const at = `$${ins.atParam}::bigint`
  const count = '(SELECT count(*) FROM ins)'
  const head = `'o', $${n + 2}::text, 'kind', 'rows', 'nodeId', $1::text, 'stream', '${stream}'`
  const sql = `WITH ins AS (${ins.sql}),
    up AS (INSERT INTO nodes (node_id, declared_online, first_seen, last_seen, summaries, events)
      SELECT $1::text, 1, ${at}, ${at}, ${stream === 'summary' ? count : '0'}, ${stream === 'event' ? count : '0'}
      ON CONFLICT (node_id) DO UPDATE SET declared_online = 1, last_seen = GREATEST(nodes.last_seen, excluded.last_seen),
        summaries = nodes.summaries + excluded.summaries, events = nodes.events + excluded.events),
    rng AS (SELECT min(seq) AS a, max(seq) AS b FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq) AS g FROM ins) t GROUP BY g),
    agg AS (SELECT json_agg(json_build_array(a, b) ORDER BY a) AS ranges, min(a) AS lo, max(b) AS hi FROM rng)
    SELECT agg.ranges::text AS ranges,
      CASE WHEN agg.ranges IS NULL THEN NULL
        WHEN length(agg.ranges::text) < 7000 THEN pg_notify($${n + 1}, json_build_object(${head}, 'ranges', agg.ranges)::text)
        ELSE pg_notify($${n + 1}, json_build_object(${head}, 'ranges', json_build_array(json_build_array(agg.lo, agg.hi)))::text)
      END AS notified
    FROM agg`
  return { sql, params: [...ins.params, channel, origin], atParam: ins.atParam }
}
