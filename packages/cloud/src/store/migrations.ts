import type Database from 'better-sqlite3'
import type pg from 'pg'
import { type Dialect, schemaSql } from './sql.js'
import type { MigrationResult } from './types.js'

/** One schema step: applied once per store, in version order, inside the migration transaction. */
export interface Migration {
  version: number
  name: string
  sql(d: Dialect): string[]
}

/**
 * Every schema change of the cloud store, oldest first; append only (a released step is never edited).
 * v1 is the schema as it was before versioning (every statement IF NOT EXISTS), so a store made by an older
 * build is adopted as it is and upgraded from there, never recreated.
 */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'baseline', sql: schemaSql },
  {
    version: 2,
    name: 'ordered heartbeats: the node boot and sequence of the last applied heartbeat or will',
    sql: () => ['ALTER TABLE nodes ADD COLUMN hb_boot BIGINT', 'ALTER TABLE nodes ADD COLUMN hb_seq BIGINT'],
  },
]

/** The version a store has after this build's migrations. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version

const TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`

function plan(done: readonly number[]): { from: number; todo: Migration[] } {
  const have = new Set(done)
  return {
    from: done.length ? Math.max(...done) : 0,
    todo: MIGRATIONS.filter((m) => !have.has(m.version)),
  }
}

/** A lock key per schema, so stores in other schemas of one database migrate without waiting on each other. */
const lockKey = (schema: string) => `fogline-store:${schema}`

/**
 * Migrate a PostgreSQL schema in one transaction under a transaction-scoped advisory lock: replicas that
 * start together queue on the lock, the first applies the steps, the others find nothing left to do.
 * PostgreSQL DDL is transactional, so a failed step leaves the store as it was.
 */
export async function migratePostgres(
  c: pg.ClientBase,
  schema: string,
  at: number,
): Promise<MigrationResult> {
  await c.query('BEGIN')
  try {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockKey(schema)])
    // inside the lock: concurrent CREATE … IF NOT EXISTS races on the catalogue's unique indexes
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
    await c.query(`SET LOCAL search_path TO ${schema}`)
    await c.query(TABLE)
    const done = (await c.query('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version))
    const { from, todo } = plan(done)
    for (const m of todo) {
      for (const s of m.sql('postgres')) await c.query(s)
      await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        at,
      ])
    }
    await c.query('COMMIT')
    return { from, to: Math.max(from, ...todo.map((m) => m.version)), applied: todo.map((m) => m.version) }
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {})
    throw err
  }
}

/** Migrate a SQLite file in one IMMEDIATE transaction (its write lock keeps other processes out meanwhile). */
export function migrateSqlite(db: Database.Database, at: number): MigrationResult {
  return db
    .transaction(() => {
      db.exec(TABLE)
      const done = (
        db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>
      ).map((r) => r.version)
      const { from, todo } = plan(done)
      const mark = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
      for (const m of todo) {
        for (const s of m.sql('sqlite')) db.exec(s)
        mark.run(m.version, m.name, at)
      }
      return { from, to: Math.max(from, ...todo.map((m) => m.version)), applied: todo.map((m) => m.version) }
    })
    .immediate()
}
