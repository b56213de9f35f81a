import { openSideSqlite, sqliteSideRun, storeFailed } from '../store/index.js'
import { CONTROL_SCHEMA, type ControlDb, controlRepoOver, NEXT_VERSION_SQL } from './core.js'
import type { ControlRepo } from './repo.js'

/**
 * SQLite implementation: its own connection to the cloud's SQLite file (WAL lets it share the file with
 * the store), or ':memory:'.
 * @example const repo = openSqliteControlRepo('.fogline/cloud.db')
 */
export function openSqliteControlRepo(path: string): ControlRepo {
  const db = openSideSqlite(path, [CONTROL_SCHEMA], 'control tables')
  const all = sqliteSideRun(db, 'control tables')
  // better-sqlite3 is synchronous: the whole "next number, insert" runs as one IMMEDIATE transaction
  const create = db.transaction((insert: Parameters<ControlDb['createVersion']>[0]) => {
    const next = Number((db.prepare(NEXT_VERSION_SQL).get() as { v: number }).v)
    const ins = insert(next)
    db.prepare(ins.sql).run(...ins.args)
    return ins.row
  })
  return controlRepoOver({
    all,
    async createVersion(insert) {
      try {
        return create.immediate(insert)
      } catch (cause) {
        throw storeFailed('control tables', cause)
      }
    },
    close: async () => void db.close(),
  })
}
