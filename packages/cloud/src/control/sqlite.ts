import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { FoglineError } from '@fogline/protocol'
import Database from 'better-sqlite3'
import { CONTROL_SCHEMA, type ControlDb, controlRepoOver, NEXT_VERSION_SQL, type Row } from './core.js'
import type { ControlRepo } from './repo.js'

const failed = (cause: unknown) =>
  cause instanceof FoglineError
    ? cause
    : new FoglineError('FOG_STORE_FAILED', `control tables: ${(cause as Error).message}`, {}, { cause })

/**
 * SQLite implementation: its own connection to the cloud's SQLite file (WAL lets it share the file with
 * the store), or ':memory:'.
 * @example const repo = openSqliteControlRepo('.fogline/cloud.db')
 */
export function openSqliteControlRepo(path: string): ControlRepo {
  let db: Database.Database
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    db = new Database(path)
    db.pragma('journal_mode = WAL')
    db.pragma('busy_timeout = 5000')
    db.exec(CONTROL_SCHEMA)
  } catch (cause) {
    throw new FoglineError(
      'FOG_STORE_FAILED',
      `cannot open the control tables: ${(cause as Error).message}`,
      { file: path },
      { cause },
    )
  }
  const run = (sql: string, args: readonly unknown[]): Row[] => {
    const st = db.prepare(sql)
    if (st.reader) return st.all(...args) as Row[]
    st.run(...args)
    return []
  }
  // better-sqlite3 is synchronous: the whole "next number, insert" runs as one IMMEDIATE transaction
  const create = db.transaction((insert: Parameters<ControlDb['createVersion']>[0]) => {
    const next = Number(run(NEXT_VERSION_SQL, [])[0]?.v)
    const ins = insert(next)
    run(ins.sql, ins.args)
    return ins.row
  })
  const attempt = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn())
    } catch (cause) {
      return Promise.reject(failed(cause))
    }
  }
  return controlRepoOver({
    all: (sql, args) => attempt(() => run(sql, args)),
    createVersion: (insert) => attempt(() => create.immediate(insert)),
    close: () => attempt(() => void db.close()),
  })
}
