import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { type Clock, FoglineError, systemClock } from '@fogline/protocol'
import Database from 'better-sqlite3'
import { sqliteInsertSql, sqliteRowArgs } from './columns.js'
import { migrateSqlite } from './migrations.js'
import { recordDeadLetter, type Stmt, touchNode } from './node-sql.js'
import { type Row, storeCore } from './reads.js'
import { retentionSql } from './retention.js'
import { emptyResult, splitBatch } from './rows.js'
import type { InsertResult, MigrationResult, Store } from './types.js'

type BatchIn = Parameters<Store['insertBatch']>[0]

const SUPERSEDE = `UPDATE summaries SET superseded = 1 WHERE node_id = ? AND pipeline_id = ? AND sensor_id = ? AND metric = ?
  AND wstart = ? AND wend = ? AND seq < ?`

function openDb(path: string, at: number): { db: Database.Database; migration: MigrationResult } {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  try {
    const db = new Database(path)
    db.pragma('journal_mode = WAL')
    // FULL: the ack goes out after the commit, so the commit must survive a power cut too (fsync per batch)
    db.pragma('synchronous = FULL')
    db.pragma('busy_timeout = 5000')
    return { db, migration: migrateSqlite(db, at) }
  } catch (cause) {
    throw new FoglineError(
      'FOG_STORE_FAILED',
      `cannot open the SQLite store: ${(cause as Error).message}`,
      { file: path },
      { cause },
    )
  }
}

/** One statement; rows for a reader (SELECT or RETURNING), none otherwise. */
function runner(db: Database.Database) {
  const cache = new Map<string, Database.Statement>()
  return (sql: string, params: readonly unknown[]): Row[] => {
    let st = cache.get(sql)
    if (!st) cache.set(sql, (st = db.prepare(sql)))
    if (st.reader) return st.all(...params) as Row[]
    st.run(...params)
    return []
  }
}

/** The batch transaction: every record once (resends change nothing), bad bodies dead-lettered, node counters. */
function batchWriter(db: Database.Database) {
  const run = runner(db)
  const insSummary = db.prepare(sqliteInsertSql('summaries'))
  const insEvent = db.prepare(sqliteInsertSql('events'))
  const insRaw = db.prepare(sqliteInsertSql('raw_records'))
  const supersede = db.prepare(SUPERSEDE)
  const exec = (s: Stmt) => run(s.sql, s.params)
  return db.transaction((batch: BatchIn, at: number): InsertResult => {
    const parts = splitBatch(batch)
    const res = emptyResult(parts)
    for (const r of parts.summaries)
      if (insSummary.run(...sqliteRowArgs('summaries', r.nodeId, r, at)).changes) res.summaries.push(r)
    for (const r of parts.corrections)
      supersede.run(r.nodeId, r.pipelineId, r.sensorId, r.metric, r.start, r.end, r.seq)
    for (const r of parts.events)
      if (insEvent.run(...sqliteRowArgs('events', r.nodeId, r, at)).changes) res.events.push(r)
    let rawIns = 0
    for (const r of parts.raw) rawIns += insRaw.run(...sqliteRowArgs('raw_records', r.nodeId, r, at)).changes
    for (const b of parts.bad) exec(recordDeadLetter('sqlite', batch, b, at))
    res.inserted = res.summaries.length + res.events.length + rawIns
    res.duplicates = parts.seqs.length - parts.bad.length - res.inserted
    exec(touchNode('sqlite', batch.nodeId, at, res.summaries.length, res.events.length))
    return res
  })
}

/**
 * The embedded default store: one SQLite file in WAL mode; each batch commits in one transaction.
 * @example const store = await openSqliteStore({ path: '.fogline/cloud.db' })
 */
export async function openSqliteStore(opts: { path: string; clock?: Clock }): Promise<Store> {
  const { db, migration } = openDb(opts.path, (opts.clock ?? systemClock).now())
  const insertTx = batchWriter(db)
  const run = runner(db)
  return {
    kind: 'sqlite',
    migration,
    async ping() {
      db.prepare('SELECT 1').get()
    },
    ...storeCore('sqlite', async (sql, params) => run(sql, params)),
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
}
