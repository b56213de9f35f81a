import { FoglineError } from '@fogline/protocol'
import pg from 'pg'
import { CONTROL_SCHEMA, controlRepoOver, NEXT_VERSION_SQL, type Row } from './core.js'
import type { ControlRepo } from './repo.js'

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/
// any constant: the advisory lock that makes "MAX(version) + 1, insert" one step across aggregator replicas
const VERSION_LOCK = 0x464f474c

const failed = (cause: unknown) =>
  cause instanceof FoglineError
    ? cause
    : new FoglineError('FOG_STORE_FAILED', `control tables: ${(cause as Error).message}`, {}, { cause })

/** `?` placeholders (the shared SQL) as PostgreSQL's `$1, $2, …`. */
const numbered = (sql: string) => {
  let i = 0
  return sql.replace(/\?/g, () => `$${++i}`)
}

/**
 * PostgreSQL implementation of the control tables, for clouds whose store is PostgreSQL: several aggregator
 * replicas then share one version counter.
 * @example const repo = await openPostgresControlRepo({ url: 'postgres://postgres@127.0.0.1:5432/test' })
 */
export async function openPostgresControlRepo(opts: { url: string; schema?: string }): Promise<ControlRepo> {
  const schema = opts.schema ?? 'public'
  if (!IDENT.test(schema))
    throw new FoglineError('FOG_CONFIG_INVALID', `schema "${schema}" must match ${IDENT}`, {
      field: 'schema',
    })
  const pool = new pg.Pool({ connectionString: opts.url, max: 4 })
  pool.on('error', () => {}) // an idle client's socket error is reported on its next query
  pool.on('connect', (c) => void c.query(`SET search_path TO ${schema}`).catch(() => {}))
  await createTables(pool, schema)
  return controlRepoOver({
    async all(sql, args) {
      try {
        return (await pool.query(numbered(sql), [...args])).rows as Row[]
      } catch (cause) {
        throw failed(cause)
      }
    },
    async createVersion(insert) {
      const c = await pool.connect()
      try {
        await c.query('BEGIN')
        await c.query('SELECT pg_advisory_xact_lock($1)', [VERSION_LOCK])
        const next = Number((await c.query(NEXT_VERSION_SQL)).rows[0].v)
        const ins = insert(next)
        await c.query(numbered(ins.sql), ins.args)
        await c.query('COMMIT')
        return ins.row
      } catch (cause) {
        await c.query('ROLLBACK').catch(() => {})
        throw failed(cause)
      } finally {
        c.release()
      }
    },
    close: () => pool.end(),
  })
}

async function createTables(pool: pg.Pool, schema: string): Promise<void> {
  try {
    const c = await pool.connect()
    try {
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
      await c.query(`SET search_path TO ${schema}`)
      // concurrent replicas may start together: one creates the tables at a time
      await c.query('SELECT pg_advisory_lock($1)', [VERSION_LOCK])
      try {
        await c.query(CONTROL_SCHEMA)
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [VERSION_LOCK])
      }
    } finally {
      c.release()
    }
  } catch (cause) {
    await pool.end().catch(() => {})
    throw new FoglineError(
      'FOG_STORE_FAILED',
      `cannot open the control tables in PostgreSQL: ${(cause as Error).message}`,
      {},
      { cause },
    )
  }
}
