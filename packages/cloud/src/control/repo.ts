import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { type DesiredEnvelope, type DesiredState, type DesiredTarget, FoglineError } from '@fogline/protocol'
import Database from 'better-sqlite3'

/** One stored desired-state version. `status`: published, canary (held back by a rollout), stopped. */
export interface DesiredRow {
  version: number
  target: DesiredTarget
  doc: DesiredState
  envelope: DesiredEnvelope
  createdAt: number
  rolloutId: string | null
  status: 'published' | 'canary' | 'stopped'
}

/** The latest thing a node reported about one version. */
export interface ReportRow {
  nodeId: string
  version: number
  status: string
  health: string | null
  reason: string | null
  code: string | null
  at: number
}

export type RolloutState = 'canary' | 'completed' | 'stopped'

export interface RolloutRow {
  id: string
  group: string
  version: number
  canary: string[]
  state: RolloutState
  timeoutMs: number
  startedAt: number
  updatedAt: number
  reason: string | null
}

/**
 * Control's own tables (desired versions, reports, rollouts), kept beside the cloud store's through this
 * small interface. Versions come from one counter for node and group documents alike.
 * Lifecycle: open → createVersion / queries → close.
 */
export interface ControlRepo {
  /** next version number, built and stored in one transaction so two requests never share a number */
  createVersion(
    build: (version: number) => { doc: DesiredState; envelope: DesiredEnvelope },
    meta: { rolloutId?: string | null; status?: DesiredRow['status'] },
  ): Promise<DesiredRow>
  getVersion(version: number): Promise<DesiredRow | null>
  setVersionStatus(version: number, status: DesiredRow['status']): Promise<void>
  /** newest first */
  listVersions(q: { node?: string; group?: string; limit?: number }): Promise<DesiredRow[]>
  /** the newest published version for each node and each group target (what the broker retains) */
  latestPublished(): Promise<DesiredRow[]>
  putReport(r: ReportRow): Promise<void>
  listReports(q: { nodeId?: string; version?: number; limit?: number }): Promise<ReportRow[]>
  putRollout(r: RolloutRow): Promise<void>
  getRollout(id: string): Promise<RolloutRow | null>
  listRollouts(q: { group?: string; state?: RolloutState; limit?: number }): Promise<RolloutRow[]>
  close(): Promise<void>
}

/** Tables in SQL both SQLite and PostgreSQL accept (JSON kept as text). */
export const CONTROL_SCHEMA = `
CREATE TABLE IF NOT EXISTS control_desired (
  version BIGINT PRIMARY KEY,
  target_kind TEXT NOT NULL,
  target_id TEXT NOT NULL,
  doc TEXT NOT NULL,
  envelope TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  rollout_id TEXT,
  status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS control_desired_target ON control_desired (target_kind, target_id, version);
CREATE TABLE IF NOT EXISTS control_reports (
  node_id TEXT NOT NULL,
  version BIGINT NOT NULL,
  status TEXT NOT NULL,
  health TEXT,
  reason TEXT,
  code TEXT,
  at BIGINT NOT NULL,
  PRIMARY KEY (node_id, version)
);
CREATE TABLE IF NOT EXISTS control_rollouts (
  id TEXT PRIMARY KEY,
  grp TEXT NOT NULL,
  version BIGINT NOT NULL,
  canary TEXT NOT NULL,
  state TEXT NOT NULL,
  timeout_ms BIGINT NOT NULL,
  started_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  reason TEXT
);`

export type Row = Record<string, unknown>

export const toDesired = (r: Row): DesiredRow => ({
  version: Number(r.version),
  target: r.target_kind === 'node' ? { node: String(r.target_id) } : { group: String(r.target_id) },
  doc: JSON.parse(String(r.doc)),
  envelope: JSON.parse(String(r.envelope)),
  createdAt: Number(r.created_at),
  rolloutId: (r.rollout_id as string | null) ?? null,
  status: r.status as DesiredRow['status'],
})
export const toReport = (r: Row): ReportRow => ({
  nodeId: String(r.node_id),
  version: Number(r.version),
  status: String(r.status),
  health: (r.health as string | null) ?? null,
  reason: (r.reason as string | null) ?? null,
  code: (r.code as string | null) ?? null,
  at: Number(r.at),
})
export const toRollout = (r: Row): RolloutRow => ({
  id: String(r.id),
  group: String(r.grp),
  version: Number(r.version),
  canary: JSON.parse(String(r.canary)),
  state: r.state as RolloutState,
  timeoutMs: Number(r.timeout_ms),
  startedAt: Number(r.started_at),
  updatedAt: Number(r.updated_at),
  reason: (r.reason as string | null) ?? null,
})

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
