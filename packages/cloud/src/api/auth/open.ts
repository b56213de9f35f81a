import { openSidePostgres, openSideSqlite, pgSideRun, sqliteSideRun } from '../../store/index.js'
import { type AccessRepo, accessRepoOver, accessSchema } from './repo.js'

// any constant: one replica at a time creates the tables
const SCHEMA_LOCK = 0x464f4741
const WHAT = 'token and audit tables'

/**
 * Tokens and audit in SQLite: its own connection to the cloud's SQLite file (WAL shares it), or ':memory:'.
 * @example const repo = openSqliteAccessRepo('.fogline/cloud.db')
 */
export function openSqliteAccessRepo(path: string): AccessRepo {
  const db = openSideSqlite(path, accessSchema('sqlite'), WHAT)
  return accessRepoOver({ all: sqliteSideRun(db, WHAT), close: async () => void db.close() })
}

/**
 * Tokens and audit in PostgreSQL (clouds whose store is PostgreSQL; replicas share them).
 * @example const repo = await openPostgresAccessRepo({ url: 'postgres://postgres@127.0.0.1:5432/test' })
 */
export async function openPostgresAccessRepo(opts: { url: string; schema?: string }): Promise<AccessRepo> {
  const pool = await openSidePostgres({ ...opts, max: 2 }, SCHEMA_LOCK, accessSchema('postgres'), WHAT)
  return accessRepoOver({ all: pgSideRun(pool, WHAT), close: () => pool.end() })
}

/** The access repo beside a cloud's configured store. */
export function openAccessRepo(store: { sqlite: string } | { postgres: string }): Promise<AccessRepo> {
  return 'sqlite' in store
    ? Promise.resolve(openSqliteAccessRepo(store.sqlite))
    : openPostgresAccessRepo({ url: store.postgres })
}
