import { randomBytes } from 'node:crypto'
import { type Clock, FoglineError, systemClock } from '@fogline/protocol'
import pg from 'pg'
import { migratePostgres } from './migrations.js'
import { type Notify, notePayload, pgInsertBatch } from './pg-insert.js'
import { pgWatch } from './pg-watch.js'
import { type Row, storeCore } from './reads.js'
import { type RetentionCutoffs, type RetentionResult, retentionSql } from './retention.js'
import type { MigrationResult, Store } from './types.js'

export interface PostgresStoreOptions {
  /** postgres://user@host:port/db */
  url: string
  /** schema to create and use (tests use a unique one each run); default 'public' */
  schema?: string
  poolSize?: number
  /** timers (re-LISTEN after a dropped connection); default the system clock */
  clock?: Clock
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/
/** a transaction left waiting on its client this long is ended by PostgreSQL (its batch is resent) */
const IDLE_IN_TX_MS = 1500

const redact = (url: string): string => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')

async function openPool(
  opts: PostgresStoreOptions,
  schema: string,
): Promise<{ pool: pg.Pool; migration: MigrationResult }> {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? 4,
    // a replica frozen inside a transaction (SIGSTOP, GC pause, stuck VM) would hold its row locks (the node's
    // counters row) and stall every replica writing for that node; PostgreSQL ends such a session instead
    options: `-c search_path=${schema} -c idle_in_transaction_session_timeout=${IDLE_IN_TX_MS}`,
    connectionTimeoutMillis: 5000,
  })
  pool.on('error', () => {}) // an idle client's socket error is reported on its next query
  try {
    const c = await pool.connect()
    try {
      return { pool, migration: await migratePostgres(c, schema, (opts.clock ?? systemClock).now()) }
    } finally {
      c.release()
    }
  } catch (cause) {
    await pool.end().catch(() => {})
    throw new FoglineError(
      'FOG_STORE_FAILED',
      `cannot open the PostgreSQL store: ${(cause as Error).message}`,
      { url: redact(opts.url) },
      { cause },
    )
  }
}

/**
 * PostgreSQL store for several aggregator replicas: batches commit in one transaction each (pg-insert.ts);
 * fleet changes and new rows are announced to the other replicas with NOTIFY (pg-watch.ts listens).
 * @example const store = await openPostgresStore({ url: 'postgres://postgres@127.0.0.1:5432/test' })
 */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<Store> {
  const schema = opts.schema ?? 'public'
  if (!IDENT.test(schema))
    throw new FoglineError('FOG_CONFIG_INVALID', `schema "${schema}" must match ${IDENT}`, {
      field: 'store.schema',
    })
  const { pool, migration } = await openPool(opts, schema)
  // live changes for other replicas: NOTIFY is delivered on COMMIT, to listeners of this schema's channel only
  const n: Notify = { channel: `fogline_${schema}`.slice(0, 63), origin: randomBytes(6).toString('hex') }
  const notifyNode = (nodeId: string) =>
    pool.query('SELECT pg_notify($1, $2)', [n.channel, notePayload(n, { kind: 'node', nodeId })])
  const core = storeCore(
    'postgres',
    async (sql, params) => (await pool.query(sql, [...params])).rows as Row[],
  )
  return {
    kind: 'postgres',
    migration,
    ...core,
    async ping() {
      await pool.query('SELECT 1')
    },
    insertBatch: (batch, at) => pgInsertBatch(pool, n, batch, at),
    async recordHeartbeat(nodeId, body, now) {
      const applied = await core.recordHeartbeat(nodeId, body, now)
      if (applied) await notifyNode(nodeId)
      return applied
    },
    async recordReported(nodeId, body, now, seq) {
      const applied = await core.recordReported(nodeId, body, now, seq)
      if (applied) await notifyNode(nodeId)
      return applied
    },
    watch: (fn) => pgWatch(opts.url, n, opts.clock ?? systemClock, fn),
    retain: (c) => pgRetain(pool, c),
    async close() {
      await pool.end()
    },
  }
}

/** One retention pass (retention.ts) in one transaction. */
async function pgRetain(pool: pg.Pool, c: RetentionCutoffs): Promise<RetentionResult> {
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
}
