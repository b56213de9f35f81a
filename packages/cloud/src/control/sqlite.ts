import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { type DesiredEnvelope, type DesiredState, FoglineError } from '@fogline/protocol'
import Database from 'better-sqlite3'
import {
  CONTROL_SCHEMA,
  type ControlRepo,
  type DesiredRow,
  type Row,
  toDesired,
  toReport,
  toRollout,
} from './repo.js'

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
  const nextVersion = db.prepare('SELECT COALESCE(MAX(version), 0) + 1 AS v FROM control_desired')
  const insVersion = db.prepare(
    `INSERT INTO control_desired (version, target_kind, target_id, doc, envelope, created_at, rollout_id, status)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const create = db.transaction(
    (
      build: (v: number) => { doc: DesiredState; envelope: DesiredEnvelope },
      meta: { rolloutId?: string | null; status?: DesiredRow['status'] },
    ): DesiredRow => {
      const version = Number((nextVersion.get() as Row).v)
      const { doc, envelope } = build(version)
      const [kind, id] = 'node' in doc.target ? ['node', doc.target.node] : ['group', doc.target.group]
      const status = meta.status ?? 'published'
      insVersion.run(
        version,
        kind,
        id,
        JSON.stringify(doc),
        JSON.stringify(envelope),
        doc.createdAt,
        meta.rolloutId ?? null,
        status,
      )
      return {
        version,
        target: doc.target,
        doc,
        envelope,
        createdAt: doc.createdAt,
        rolloutId: meta.rolloutId ?? null,
        status,
      }
    },
  )
  const wrap = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn())
    } catch (cause) {
      if (cause instanceof FoglineError) return Promise.reject(cause)
      return Promise.reject(
        new FoglineError('FOG_STORE_FAILED', `control tables: ${(cause as Error).message}`, {}, { cause }),
      )
    }
  }

  return {
    createVersion: (build, meta) => wrap(() => create.immediate(build, meta)),
    getVersion: (version) =>
      wrap(() => {
        const r = db.prepare('SELECT * FROM control_desired WHERE version = ?').get(version) as
          | Row
          | undefined
        return r ? toDesired(r) : null
      }),
    setVersionStatus: (version, status) =>
      wrap(
        () => void db.prepare('UPDATE control_desired SET status = ? WHERE version = ?').run(status, version),
      ),
    listVersions: (q) =>
      wrap(() => {
        const where: string[] = []
        const args: unknown[] = []
        if (q.node !== undefined) {
          where.push("(target_kind = 'node' AND target_id = ?)")
          args.push(q.node)
        }
        if (q.group !== undefined) {
          where.push("(target_kind = 'group' AND target_id = ?)")
          args.push(q.group)
        }
        const sql = `SELECT * FROM control_desired ${where.length ? `WHERE ${where.join(' OR ')}` : ''} ORDER BY version DESC LIMIT ?`
        return (db.prepare(sql).all(...args, q.limit ?? 100) as Row[]).map(toDesired)
      }),
    latestPublished: () =>
      wrap(() =>
        (
          db
            .prepare(
              `SELECT d.* FROM control_desired d JOIN (
                 SELECT target_kind, target_id, MAX(version) AS v FROM control_desired WHERE status = 'published'
                 GROUP BY target_kind, target_id) m ON d.version = m.v ORDER BY d.version`,
            )
            .all() as Row[]
        ).map(toDesired),
      ),
    putReport: (r) =>
      wrap(
        () =>
          void db
            .prepare(
              `INSERT INTO control_reports (node_id, version, status, health, reason, code, at) VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (node_id, version) DO UPDATE SET status = excluded.status, health = excluded.health,
               reason = excluded.reason, code = excluded.code, at = excluded.at`,
            )
            .run(r.nodeId, r.version, r.status, r.health, r.reason, r.code, r.at),
      ),
    listReports: (q) =>
      wrap(() => {
        const where: string[] = []
        const args: unknown[] = []
        if (q.nodeId !== undefined) {
          where.push('node_id = ?')
          args.push(q.nodeId)
        }
        if (q.version !== undefined) {
          where.push('version = ?')
          args.push(q.version)
        }
        const sql = `SELECT * FROM control_reports ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, version DESC LIMIT ?`
        return (db.prepare(sql).all(...args, q.limit ?? 100) as Row[]).map(toReport)
      }),
    putRollout: (r) =>
      wrap(
        () =>
          void db
            .prepare(
              `INSERT INTO control_rollouts (id, grp, version, canary, state, timeout_ms, started_at, updated_at, reason)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state,
               updated_at = excluded.updated_at, reason = excluded.reason`,
            )
            .run(
              r.id,
              r.group,
              r.version,
              JSON.stringify(r.canary),
              r.state,
              r.timeoutMs,
              r.startedAt,
              r.updatedAt,
              r.reason,
            ),
      ),
    getRollout: (id) =>
      wrap(() => {
        const r = db.prepare('SELECT * FROM control_rollouts WHERE id = ?').get(id) as Row | undefined
        return r ? toRollout(r) : null
      }),
    listRollouts: (q) =>
      wrap(() => {
        const where: string[] = []
        const args: unknown[] = []
        if (q.group !== undefined) {
          where.push('grp = ?')
          args.push(q.group)
        }
        if (q.state !== undefined) {
          where.push('state = ?')
          args.push(q.state)
        }
        const sql = `SELECT * FROM control_rollouts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC LIMIT ?`
        return (db.prepare(sql).all(...args, q.limit ?? 100) as Row[]).map(toRollout)
      }),
    close: () => wrap(() => void db.close()),
  }
}
