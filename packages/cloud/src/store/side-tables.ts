import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { FoglineError } from '@fogline/protocol'
import Database from 'better-sqlite3'
import pg from 'pg'

/**
 * Side tables (control's desired state, the API's tokens and audit) live beside the cloud's store, each
 * behind its own small repo. These are the database parts they share: open, create the tables once, run one
 * statement written with `?` placeholders.
 */
export type SideRow = Record<string, unknown>

/** One statement with `?` placeholders; rows for a SELECT (or RETURNING), none otherwise. */
export type SideRun = (sql: string, args: readonly unknown[]) => Promise<SideRow[]>

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/

/** A failure of `what` as FOG_STORE_FAILED (a FoglineError stays as it is). */
export const storeFailed = (what: string, cause: unknown): FoglineError =>
  cause instanceof FoglineError
    ? cause
    : new FoglineError('FOG_STORE_FAILED', `${what}: ${(cause as Error).message}`, {}, { cause })

/** `?` placeholders as PostgreSQL's `$1, $2, …`. */
export function numbered(sql: string): string {
  let i = 0
  return sql.replace(/\?/g, () => `$${++i}`)
}

/** Its own connection to the cloud's SQLite file (WAL lets it share the file with the store), or ':memory:'. */
export function openSideSqlite(path: string, schema: readonly string[], what: string): Database.Database {
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    const db = new Database(path)
    db.pragma('journal_mode = WAL')
    db.pragma('busy_timeout = 5000')
    for (const s of schema) db.exec(s)
    return db
  } catch (cause) {
    throw new FoglineError(
      'FOG_STORE_FAILED',
      `cannot open the ${what}: ${(cause as Error).message}`,
      { file: path },
      { cause },
    )
  }
}

/** `run` over one better-sqlite3 connection (synchronous underneath). */
export function sqliteSideRun(db: Database.Database, what: string): SideRun {
  return (sql, args) => {
    try {
      const st = db.prepare(sql)
      if (st.reader) return Promise.resolve(st.all(...args) as SideRow[])
      st.run(...args)
      return Promise.resolve([])
    } catch (cause) {
      return Promise.reject(storeFailed(what, cause))
    }
  }
}

/**
 * A pool on `schema` (created if missing) with the tables made under an advisory lock, so replicas that start
 * together create them once.
 */
export async function openSidePostgres(
  opts: { url: string; schema?: string | undefined; max?: number },
  lock: number,
  schema: readonly string[],
  what: string,
): Promise<pg.Pool> {
  const name = opts.schema ?? 'public'
  if (!IDENT.test(name))
    throw new FoglineError('FOG_CONFIG_INVALID', `schema "${name}" must match ${IDENT}`, { field: 'schema' })
  const pool = new pg.Pool({ connectionString: opts.url, max: opts.max ?? 4 })
  pool.on('error', () => {}) // an idle client's socket error is reported on its next query
  pool.on('connect', (c) => void c.query(`SET search_path TO ${name}`).catch(() => {}))
  try {
    const c = await pool.connect()
    try {
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${name}`)
      await c.query(`SET search_path TO ${name}`)
      await c.query('SELECT pg_advisory_lock($1)', [lock])
      try {
        for (const s of schema) await c.query(s)
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [lock])
      }
    } finally {
      c.release()
    }
    return pool
  } catch (cause) {
    await pool.end().catch(() => {})
    throw storeFailed(`cannot open the ${what} in PostgreSQL`, cause)
  }
}

/** `run` over a pool (the shared `?` statements numbered for PostgreSQL). */
export function pgSideRun(pool: pg.Pool, what: string): SideRun {
  return async (sql, args) => {
    try {
      return (await pool.query(numbered(sql), [...args])).rows as SideRow[]
    } catch (cause) {
      throw storeFailed(what, cause)
    }
  }
}
