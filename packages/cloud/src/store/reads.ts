import type { DataStream } from '@fogline/protocol'
import { deadLetterInsert, heartbeatUpsert, reportedUpsert, type Stmt, stmt } from './node-sql.js'
import { clampLimit } from './rows.js'
import {
  bySeqSelect,
  type Dialect,
  eventSelect,
  mapDeadLetter,
  mapEvent,
  mapNode,
  mapSummary,
  summarySelect,
} from './sql.js'
import type { EventRow, Store, SummaryRow } from './types.js'

export type Row = Record<string, unknown>
/** Run one statement (in the dialect's placeholders) and return its rows. */
export type RunSql = (sql: string, params: readonly unknown[]) => Promise<Row[]>

export const TABLE: Record<DataStream, string> = { summary: 'summaries', event: 'events', raw: 'raw_records' }

/** Everything of a Store except writing batches, retention, watching and closing: written once for both dialects. */
export type StoreCore = Omit<
  Store,
  'kind' | 'migration' | 'ping' | 'insertBatch' | 'watch' | 'retain' | 'close'
>

/**
 * The queries and node-table writes every store shares, over a dialect's `run`.
 * @example const core = storeCore('sqlite', async (sql, p) => db.prepare(sql).all(...p))
 */
export function storeCore(d: Dialect, run: RunSql): StoreCore {
  const all = (s: Stmt) => run(s.sql, s.params)
  return {
    async querySummaries(q = {}) {
      const { sql, params } = summarySelect(q, d)
      return (await run(sql, params)).map(mapSummary).reverse()
    },
    async queryEvents(q = {}) {
      const { sql, params } = eventSelect(q, d)
      return (await run(sql, params)).map(mapEvent).reverse()
    },
    async countRecords(q = {}) {
      const streams = q.stream ? [q.stream] : (Object.keys(TABLE) as DataStream[])
      const by = q.nodeId !== undefined ? ' WHERE node_id = $1' : ''
      let n = 0
      for (const s of streams) {
        const rows = await all(
          stmt(d, `SELECT COUNT(*) AS n FROM ${TABLE[s]}${by}`, q.nodeId !== undefined ? [q.nodeId] : []),
        )
        n += Number(rows[0]?.n ?? 0)
      }
      return n
    },
    async maxSeq(nodeId, stream) {
      const rows = await all(
        stmt(d, `SELECT MAX(seq) AS m FROM ${TABLE[stream]} WHERE node_id = $1`, [nodeId]),
      )
      return Number(rows[0]?.m ?? 0)
    },
    async addDeadLetter(x) {
      return Number((await all(deadLetterInsert(d, x)))[0]?.id ?? 0)
    },
    async listDeadLetters(q = {}) {
      const limit = clampLimit(q.limit, 1000, 10_000)
      const cols = 'id, received_at, node_id, stream, seq, topic, code, reason, bytes'
      const rows =
        q.nodeId !== undefined
          ? await all(
              stmt(d, `SELECT ${cols} FROM dead_letters WHERE node_id = $1 ORDER BY id DESC LIMIT $2`, [
                q.nodeId,
                limit,
              ]),
            )
          : await all(stmt(d, `SELECT ${cols} FROM dead_letters ORDER BY id DESC LIMIT $1`, [limit]))
      return rows.map(mapDeadLetter)
    },
    async recordHeartbeat(nodeId, body, now) {
      return (await all(heartbeatUpsert(d, nodeId, body, now))).length > 0
    },
    async recordReported(nodeId, body, now, seq) {
      return (await all(reportedUpsert(d, nodeId, body, now, seq))).length > 0
    },
    async recordsBySeq(nodeId, stream, ranges) {
      const { sql, params } = bySeqSelect(nodeId, stream, ranges, d)
      return (await run(sql, params)).map((r): SummaryRow | EventRow =>
        stream === 'summary' ? mapSummary(r) : mapEvent(r),
      )
    },
    async listNodes() {
      return (await run('SELECT * FROM nodes ORDER BY node_id', [])).map(mapNode)
    },
    async getNode(nodeId) {
      const rows = await all(stmt(d, 'SELECT * FROM nodes WHERE node_id = $1', [nodeId]))
      return rows[0] ? mapNode(rows[0]) : null
    },
  }
}
