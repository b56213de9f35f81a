import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { FoglineError } from '@fogline/protocol'
import Database from 'better-sqlite3'
import pg from 'pg'
import { type AccessDb, type AccessRepo, accessRepoOver, accessSchema } from './repo.js'

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/
// any constant: one replica at a time creates the tables
const SCHEMA_LOCK = 0x464f4741

const failed = (what: string, cause: unknown) =>
  cause instanceof FoglineError
    ? cause
    : new FoglineError('FOG_STORE_FAILED', `${what}: ${(cause as Error).message}`, {}, { cause })

/**
 * Tokens and audit in SQLite: its own connection to the cloud's SQLite file (WAL shares it), or ':memory:'.
 * @example const repo = openSqliteAccessRepo('.fogline/cloud.db')
 */
export function openSqliteAccessRepo(path: string): AccessRepo {
  let db: Database.Database
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    db = new Database(path)
    db.pragma('journal_mode = WAL')
    db.pragma('busy_timeout = 5000')
    for (const s of accessSchema('sqlite')) db.exec(s)
  } catch (cause) {
    throw failed(`cannot open the token and audit tables in ${path}`, cause)
  }
  const run: AccessDb = {
    all(sql, args) {
      try {
        const st = db.prepare(sql)
        if (st.reader) return Promise.resolve(st.all(...args) as Array<Record<string, unknown>>)
        st.run(...args)
        return Promise.resolve([])
      } catch (cause) {
        return Promise.reject(failed('token and audit tables', cause))
      }
    },
    close: async () => void db.close(),
  }
  return accessRepoOver(run)
}

/**
 * Tokens and audit in PostgreSQL (clouds whose store is PostgreSQL; replicas share them).
 * @example const repo = await openPostgresAccessRepo({ url: 'postgres://postgres@127.0.0.1:5432/test' })
 */
export async function openPostgresAccessRepo(opts: { url: string; schema?: string }): Promise<AccessRepo> {
  const schema = opts.schema ?? 'public'
  if (!IDENT.test(schema))
    throw new FoglineError('FOG_CONFIG_INVALID', `schema "${schema}" must match ${IDENT}`, {
      field: 'schema',
    })
  const pool = new pg.Pool({ connectionString: opts.url, max: 2 })
  pool.on('error', () => {})
  pool.on('connect', (c) => void c.query(`SET search_path TO ${schema}`).catch(() => {}))
  try {
    const c = await pool.connect()
    try {
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
      await c.query(`SET search_path TO ${schema}`)
      await c.query('SELECT pg_advisory_lock($1)', [SCHEMA_LOCK])
      try {
        for (const s of accessSchema('postgres')) await c.query(s)
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [SCHEMA_LOCK])
      }
    } finally {
      c.release()
    }
  } catch (cause) {
    await pool.end().catch(() => {})
    throw failed('cannot open the token and audit tables in PostgreSQL', cause)
  }
  const run: AccessDb = {
    async all(sql, args) {
      let n = 0
      // the shared queries use `?`; PostgreSQL numbers its parameters
      const text = sql.replace(/\?/g, () => `$${++n}`)
      try {
        return (await pool.query(text, [...args])).rows as Array<Record<string, unknown>>
      } catch (cause) {
        throw failed('token and audit tables', cause)
      }
    },
    close: () => pool.end(),
  }
  return accessRepoOver(run)
}

/** The access repo beside a cloud's configured store. */
export function openAccessRepo(store: { sqlite: string } | { postgres: string }): Promise<AccessRepo> {
  return 'sqlite' in store
    ? Promise.resolve(openSqliteAccessRepo(store.sqlite))
    : openPostgresAccessRepo({ url: store.postgres })
}
