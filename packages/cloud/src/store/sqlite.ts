import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { type DataStream, FoglineError } from '@fogline/protocol'
import Database from 'better-sqlite3'
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
import type { DeadLetterInput, EventRow, HeartbeatBody, InsertResult, Store, SummaryRow } from './types.js'

type Row = Record<string, unknown>
const TABLE: Record<DataStream, string> = { summary: 'summaries', event: 'events', raw: 'raw_records' }

/**
 * The embedded default store: one SQLite file in WAL mode; each batch commits in one transaction.
 * @example const store = await openSqliteStore({ path: '.fogline/cloud.db' })
 */
export async function openSqliteStore(opts: { path: string }): Promise<Store> {
  if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true })
  let db: Database.Database
  try {
    db = new Database(opts.path)
    db.pragma('journal_mode = WAL')
    // FULL: the ack goes out after the commit, so the commit must survive a power cut too (fsync per batch)
    db.pragma('synchronous = FULL')
    db.pragma('busy_timeout = 5000')
    for (const s of schemaSql('sqlite')) db.exec(s)
  } catch (cause) {
    throw new FoglineError(
      'FOG_STORE_FAILED',
      `cannot open the SQLite store: ${(cause as Error).message}`,
      { file: opts.path },
      { cause },
    )
  }

  const insSummary = db.prepare(
    `INSERT INTO summaries (node_id, seq, pipeline_id, sensor_id, metric, wstart, wend, cnt, vmin, vmax, vmean, vsum, aggs, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  )
  const insEvent = db.prepare(
    `INSERT INTO events (node_id, seq, pipeline_id, sensor_id, metric, ts, kind, name, value, severity, detail, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  )
  const insRaw = db.prepare(
    'INSERT INTO raw_records (node_id, seq, ts, body, received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  )
  const supersede = db.prepare(
    `UPDATE summaries SET superseded = 1 WHERE node_id = ? AND pipeline_id = ? AND sensor_id = ? AND metric = ?
     AND wstart = ? AND wend = ? AND seq < ?`,
  )
  const insDead = db.prepare(
    `INSERT INTO dead_letters (received_at, node_id, stream, seq, topic, code, reason, bytes, payload)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  )
  const touchNode = db.prepare(
    `INSERT INTO nodes (node_id, declared_online, first_seen, last_seen, summaries, events) VALUES (?, 1, ?, ?, ?, ?)
     ON CONFLICT (node_id) DO UPDATE SET declared_online = 1, last_seen = MAX(last_seen, excluded.last_seen),
       summaries = summaries + excluded.summaries, events = events + excluded.events`,
  )
  const upHeartbeat = db.prepare(
    `INSERT INTO nodes (node_id, group_name, declared_online, first_seen, last_seen, heartbeat) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (node_id) DO UPDATE SET group_name = COALESCE(excluded.group_name, group_name),
       declared_online = excluded.declared_online,
       last_seen = CASE WHEN ? THEN excluded.last_seen ELSE last_seen END,
       heartbeat = CASE WHEN ? THEN excluded.heartbeat ELSE heartbeat END`,
  )
  const upReported = db.prepare(
    `INSERT INTO nodes (node_id, declared_online, first_seen, last_seen, reported, reported_at, reported_seq)
     VALUES (?, 1, ?, ?, ?, ?, ?)
     ON CONFLICT (node_id) DO UPDATE SET last_seen = excluded.last_seen, reported = excluded.reported,
       reported_at = excluded.reported_at, reported_seq = excluded.reported_seq
     WHERE excluded.reported_seq IS NULL OR reported_seq IS NULL OR excluded.reported_seq > reported_seq`,
  )
  const maxSeqStmt = Object.fromEntries(
    Object.entries(TABLE).map(([s, t]) => [
      s,
      db.prepare(`SELECT MAX(seq) AS m FROM ${t} WHERE node_id = ?`),
    ]),
  ) as Record<DataStream, Database.Statement>

  const insertTx = db.transaction((batch: Parameters<Store['insertBatch']>[0], at: number): InsertResult => {
    const parts = splitBatch(batch)
    const res: InsertResult = {
      seqs: parts.seqs,
      bad: parts.bad,
      inserted: 0,
      duplicates: 0,
      summaries: [],
      events: [],
    }
    for (const r of parts.summaries) {
      const aggs = r.aggs ? JSON.stringify(r.aggs) : null
      const c = insSummary.run(
        r.nodeId,
        r.seq,
        r.pipelineId,
        r.sensorId,
        r.metric,
        r.start,
        r.end,
        r.count,
        r.min,
        r.max,
        r.mean,
        r.sum,
        aggs,
        at,
      ).changes
      if (c) res.summaries.push(r)
    }
    for (const r of parts.corrections)
      supersede.run(r.nodeId, r.pipelineId, r.sensorId, r.metric, r.start, r.end, r.seq)
    for (const r of parts.events) {
      const detail = r.detail ? JSON.stringify(r.detail) : null
      const c = insEvent.run(
        r.nodeId,
        r.seq,
        r.pipelineId,
        r.sensorId,
        r.metric,
        r.ts,
        r.kind,
        r.name,
        r.value,
        r.severity,
        detail,
        at,
      ).changes
      if (c) res.events.push(r)
    }
    let rawIns = 0
    for (const r of parts.raw) rawIns += insRaw.run(r.nodeId, r.seq, r.ts, r.body, at).changes
    for (const b of parts.bad)
      insDead.run(
        at,
        batch.nodeId,
        batch.stream,
        b.seq,
        `fogline/v1/${batch.nodeId}/up/${batch.stream}`,
        'FOG_BATCH_INVALID',
        b.reason,
        0,
        null,
      )
    res.inserted = res.summaries.length + res.events.length + rawIns
    res.duplicates = parts.seqs.length - parts.bad.length - res.inserted
    touchNode.run(batch.nodeId, at, at, res.summaries.length, res.events.length)
    return res
  })

  const all = (sql: string, params: unknown[]) => db.prepare(sql).all(...params) as Row[]

  const store: Store = {
    kind: 'sqlite',
    async insertBatch(batch, receivedAt) {
      try {
        return insertTx(batch, receivedAt)
      } catch (cause) {
        throw new FoglineError(
          'FOG_STORE_FAILED',
          `batch ${batch.batchId} not committed: ${(cause as Error).message}`,
          { nodeId: batch.nodeId, stream: batch.stream },
          { cause },
        )
      }
    },
    async querySummaries(q = {}) {
      const { sql, params } = summarySelect(q, 'sqlite')
      return all(sql, params).map(mapSummary).reverse()
    },
    async queryEvents(q = {}) {
      const { sql, params } = eventSelect(q, 'sqlite')
      return all(sql, params).map(mapEvent).reverse()
    },
    async countRecords(q = {}) {
      const streams = q.stream ? [q.stream] : (Object.keys(TABLE) as DataStream[])
      let n = 0
      for (const s of streams) {
        const where = q.nodeId !== undefined ? ' WHERE node_id = ?' : ''
        const args = q.nodeId !== undefined ? [q.nodeId] : []
        n += (db.prepare(`SELECT COUNT(*) AS n FROM ${TABLE[s]}${where}`).get(...args) as { n: number }).n
      }
      return n
    },
    async maxSeq(nodeId, stream) {
      return ((maxSeqStmt[stream].get(nodeId) as { m: number | null }).m ?? 0) as number
    },
    async addDeadLetter(d: DeadLetterInput) {
      const payload = Buffer.from(d.payload.subarray(0, DEAD_LETTER_MAX_PAYLOAD))
      return Number(
        insDead.run(
          d.receivedAt,
          d.nodeId,
          d.stream ?? null,
          d.seq ?? null,
          d.topic,
          d.code,
          d.reason,
          d.payload.length,
          payload,
        ).lastInsertRowid,
      )
    },
    async listDeadLetters(q = {}) {
      const limit = clampLimit(q.limit, 1000, 10_000)
      const rows =
        q.nodeId !== undefined
          ? all('SELECT * FROM dead_letters WHERE node_id = ? ORDER BY id DESC LIMIT ?', [q.nodeId, limit])
          : all('SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?', [limit])
      return rows.map(mapDeadLetter)
    },
    async recordHeartbeat(nodeId, body: HeartbeatBody, now) {
      const full = isFullHeartbeat(body) ? 1 : 0
      const online = body.online === false ? 0 : 1
      const group = typeof body.group === 'string' ? body.group : null
      upHeartbeat.run(nodeId, group, online, now, now, JSON.stringify(body), full, full)
    },
    async recordReported(nodeId, body, now, seq) {
      return upReported.run(nodeId, now, now, JSON.stringify(body), now, seq ?? null).changes > 0
    },
    async recordsBySeq(nodeId, stream, ranges) {
      const { sql, params } = bySeqSelect(nodeId, stream, ranges, 'sqlite')
      return all(sql, params).map((r): SummaryRow | EventRow =>
        stream === 'summary' ? mapSummary(r) : mapEvent(r),
      )
    },
    async listNodes() {
      return all('SELECT * FROM nodes ORDER BY node_id', []).map(mapNode)
    },
    async getNode(nodeId) {
      const r = db.prepare('SELECT * FROM nodes WHERE node_id = ?').get(nodeId) as Row | undefined
      return r ? mapNode(r) : null
    },
    async retain(c) {
      const sql = retentionSql(() => '?')
      const [rollup, removeMerged, remove] = [sql.rollup, sql.removeMerged, sql.remove].map((q) =>
        db.prepare(q),
      )
      return db.transaction(() => {
        const hourly = rollup!.run(c.rollupBefore).changes
        const rolledUp = removeMerged!.run(c.rollupBefore, c.rollupBefore).changes
        return { hourly, rolledUp, deleted: remove!.run(c.deleteBefore).changes }
      })()
    },
    async close() {
      if (db.open) db.close()
    },
  }
  return store
}
