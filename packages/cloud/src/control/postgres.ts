import { numbered, openSidePostgres, pgSideRun, storeFailed } from '../store/index.js'
import { CONTROL_SCHEMA, controlRepoOver, NEXT_VERSION_SQL } from './core.js'
import type { ControlRepo } from './repo.js'

// any constant: the advisory lock that makes "MAX(version) + 1, insert" one step across aggregator replicas
const VERSION_LOCK = 0x464f474c

/**
 * PostgreSQL implementation of the control tables, for clouds whose store is PostgreSQL: several aggregator
 * replicas then share one version counter.
 * @example const repo = await openPostgresControlRepo({ url: 'postgres://postgres@127.0.0.1:5432/test' })
 */
export async function openPostgresControlRepo(opts: { url: string; schema?: string }): Promise<ControlRepo> {
  const pool = await openSidePostgres(opts, VERSION_LOCK, [CONTROL_SCHEMA], 'control tables')
  return controlRepoOver({
    all: pgSideRun(pool, 'control tables'),
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
        throw storeFailed('control tables', cause)
      } finally {
        c.release()
      }
    },
    close: () => pool.end(),
  })
}
