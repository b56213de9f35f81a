import { FoglineError } from '@fogline/protocol'
import pg from 'pg'
import {
  CONTROL_SCHEMA,
  type ControlRepo,
  type DesiredRow,
  type Row,
  toDesired,
  toReport,
  toRollout,
} from './repo.js'

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/
// any constant: the advisory lock that makes "MAX(version) + 1, insert" one step across aggregator replicas
const VERSION_LOCK = 0x464f474c

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
  pool.on('error', () => {})
  pool.on('connect', (c) => void c.query(`SET search_path TO ${schema}`).catch(() => {}))
  const q = async (sql: string, args: unknown[] = []): Promise<Row[]> => {
    try {
      return (await pool.query(sql, args)).rows as Row[]
    } catch (cause) {
      throw new FoglineError('FOG_STORE_FAILED', `control tables: ${(cause as Error).message}`, {}, { cause })
    }
  }
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

  const where = (parts: Array<[string, unknown]>, join: string) => {
    const used = parts.filter(([, v]) => v !== undefined)
    return {
      sql: used.length ? `WHERE ${used.map(([c], i) => c.replace('?', `$${i + 1}`)).join(join)}` : '',
      args: used.map(([, v]) => v),
    }
  }

  return {
    async createVersion(build, meta) {
      const c = await pool.connect()
      try {
        await c.query('BEGIN')
        await c.query('SELECT pg_advisory_xact_lock($1)', [VERSION_LOCK])
        const r = await c.query('SELECT COALESCE(MAX(version), 0) + 1 AS v FROM control_desired')
        const version = Number(r.rows[0].v)
        const { doc, envelope } = build(version)
        const [kind, id] = 'node' in doc.target ? ['node', doc.target.node] : ['group', doc.target.group]
        const status = meta.status ?? 'published'
        await c.query(
          `INSERT INTO control_desired (version, target_kind, target_id, doc, envelope, created_at, rollout_id, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            version,
            kind,
            id,
            JSON.stringify(doc),
            JSON.stringify(envelope),
            doc.createdAt,
            meta.rolloutId ?? null,
            status,
          ],
        )
        await c.query('COMMIT')
        const row: DesiredRow = {
          version,
          target: doc.target,
          doc,
          envelope,
          createdAt: doc.createdAt,
          rolloutId: meta.rolloutId ?? null,
          status,
        }
        return row
      } catch (cause) {
        await c.query('ROLLBACK').catch(() => {})
        if (cause instanceof FoglineError) throw cause
        throw new FoglineError(
          'FOG_STORE_FAILED',
          `control tables: ${(cause as Error).message}`,
          {},
          { cause },
        )
      } finally {
        c.release()
      }
    },
    async getVersion(version) {
      const r = await q('SELECT * FROM control_desired WHERE version = $1', [version])
      return r[0] ? toDesired(r[0]) : null
    },
    async setVersionStatus(version, status) {
      await q('UPDATE control_desired SET status = $1 WHERE version = $2', [status, version])
    },
    async listVersions(o) {
      const w = where(
        [
          ["(target_kind = 'node' AND target_id = ?)", o.node],
          ["(target_kind = 'group' AND target_id = ?)", o.group],
        ],
        ' OR ',
      )
      const rows = await q(
        `SELECT * FROM control_desired ${w.sql} ORDER BY version DESC LIMIT $${w.args.length + 1}`,
        [...w.args, o.limit ?? 100],
      )
      return rows.map(toDesired)
    },
    async latestPublished() {
      const rows = await q(
        `SELECT d.* FROM control_desired d JOIN (
           SELECT target_kind, target_id, MAX(version) AS v FROM control_desired WHERE status = 'published'
           GROUP BY target_kind, target_id) m ON d.version = m.v ORDER BY d.version`,
      )
      return rows.map(toDesired)
    },
    async putReport(r) {
      await q(
        `INSERT INTO control_reports (node_id, version, status, health, reason, code, at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (node_id, version) DO UPDATE SET status = excluded.status, health = excluded.health,
         reason = excluded.reason, code = excluded.code, at = excluded.at`,
        [r.nodeId, r.version, r.status, r.health, r.reason, r.code, r.at],
      )
    },
    async listReports(o) {
      const w = where(
        [
          ['node_id = ?', o.nodeId],
          ['version = ?', o.version],
        ],
        ' AND ',
      )
      const rows = await q(
        `SELECT * FROM control_reports ${w.sql} ORDER BY at DESC, version DESC LIMIT $${w.args.length + 1}`,
        [...w.args, o.limit ?? 100],
      )
      return rows.map(toReport)
    },
    async putRollout(r) {
      await q(
        `INSERT INTO control_rollouts (id, grp, version, canary, state, timeout_ms, started_at, updated_at, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET state = excluded.state,
         updated_at = excluded.updated_at, reason = excluded.reason`,
        [
          r.id,
          r.group,
          r.version,
          JSON.stringify(r.canary),
          r.state,
          r.timeoutMs,
          r.startedAt,
          r.updatedAt,
          r.reason,
        ],
      )
    },
    async getRollout(id) {
      const r = await q('SELECT * FROM control_rollouts WHERE id = $1', [id])
      return r[0] ? toRollout(r[0]) : null
    },
    async listRollouts(o) {
      const w = where(
        [
          ['grp = ?', o.group],
          ['state = ?', o.state],
        ],
        ' AND ',
      )
      const rows = await q(
        `SELECT * FROM control_rollouts ${w.sql} ORDER BY started_at DESC LIMIT $${w.args.length + 1}`,
        [...w.args, o.limit ?? 100],
      )
      return rows.map(toRollout)
    },
    async close() {
      await pool.end()
    },
  }
}
