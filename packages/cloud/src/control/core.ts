import type { DesiredEnvelope, DesiredState } from '@fogline/protocol'
import type { ControlRepo, DesiredRow, ReportRow, RolloutRow, RolloutState } from './repo.js'

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

type Build = (version: number) => { doc: DesiredState; envelope: DesiredEnvelope }
type VersionMeta = { rolloutId?: string | null; status?: DesiredRow['status'] }

/**
 * What a dialect gives the shared control repo: one statement with `?` placeholders, the version counter
 * (its own locking: a SQLite write transaction, a PostgreSQL advisory lock), and close.
 */
export interface ControlDb {
  all(sql: string, args: readonly unknown[]): Promise<Row[]>
  /** in one transaction under the counter's lock: `next = NEXT_VERSION_SQL`, then `insertVersion(next)` */
  createVersion(
    insert: (next: number) => { sql: string; args: unknown[]; row: DesiredRow },
  ): Promise<DesiredRow>
  close(): Promise<void>
}

export const NEXT_VERSION_SQL = 'SELECT COALESCE(MAX(version), 0) + 1 AS v FROM control_desired'

const INSERT_VERSION = `INSERT INTO control_desired (version, target_kind, target_id, doc, envelope, created_at, rollout_id, status)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

/** The INSERT of a new version and the row it makes. */
function versionInsert(version: number, build: Build, meta: VersionMeta) {
  const { doc, envelope } = build(version)
  const [kind, id] = 'node' in doc.target ? ['node', doc.target.node] : ['group', doc.target.group]
  const status = meta.status ?? 'published'
  const rolloutId = meta.rolloutId ?? null
  const args = [
    version,
    kind,
    id,
    JSON.stringify(doc),
    JSON.stringify(envelope),
    doc.createdAt,
    rolloutId,
    status,
  ]
  const row: DesiredRow = {
    version,
    target: doc.target,
    doc,
    envelope,
    createdAt: doc.createdAt,
    rolloutId,
    status,
  }
  return { sql: INSERT_VERSION, args, row }
}

/** `WHERE a = ? OR b = ?` from the parts whose value is given. */
function where(parts: Array<[string, unknown]>, join: ' AND ' | ' OR ') {
  const used = parts.filter(([, v]) => v !== undefined)
  return {
    sql: used.length ? `WHERE ${used.map(([c]) => c).join(join)}` : '',
    args: used.map(([, v]) => v),
  }
}

const toDesired = (r: Row): DesiredRow => ({
  version: Number(r.version),
  target: r.target_kind === 'node' ? { node: String(r.target_id) } : { group: String(r.target_id) },
  doc: JSON.parse(String(r.doc)),
  envelope: JSON.parse(String(r.envelope)),
  createdAt: Number(r.created_at),
  rolloutId: (r.rollout_id as string | null) ?? null,
  status: r.status as DesiredRow['status'],
})
const toReport = (r: Row): ReportRow => ({
  nodeId: String(r.node_id),
  version: Number(r.version),
  status: String(r.status),
  health: (r.health as string | null) ?? null,
  reason: (r.reason as string | null) ?? null,
  code: (r.code as string | null) ?? null,
  at: Number(r.at),
})
const toRollout = (r: Row): RolloutRow => ({
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

const UPSERT_REPORT = `INSERT INTO control_reports (node_id, version, status, health, reason, code, at) VALUES (?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (node_id, version) DO UPDATE SET status = excluded.status, health = excluded.health,
  reason = excluded.reason, code = excluded.code, at = excluded.at`
const UPSERT_ROLLOUT = `INSERT INTO control_rollouts (id, grp, version, canary, state, timeout_ms, started_at, updated_at, reason)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state,
  updated_at = excluded.updated_at, reason = excluded.reason`
const LATEST_PUBLISHED = `SELECT d.* FROM control_desired d JOIN (
  SELECT target_kind, target_id, MAX(version) AS v FROM control_desired WHERE status = 'published'
  GROUP BY target_kind, target_id) m ON d.version = m.v ORDER BY d.version`

/**
 * The control repo over any dialect: every query is written once here; a dialect only runs statements.
 * @example const repo = controlRepoOver(sqliteControlDb(db))
 */
export function controlRepoOver(db: ControlDb): ControlRepo {
  const first = async (sql: string, args: unknown[]) => (await db.all(sql, args))[0]
  /** newest first by `order`, filtered by the conditions whose value is set */
  const list = (
    table: string,
    conds: Array<[string, unknown]>,
    join: ' AND ' | ' OR ',
    order: string,
    limit?: number,
  ) => {
    const w = where(conds, join)
    return db.all(`SELECT * FROM ${table} ${w.sql} ORDER BY ${order} DESC LIMIT ?`, [...w.args, limit ?? 100])
  }
  return {
    createVersion: (build, meta) => db.createVersion((next) => versionInsert(next, build, meta)),
    async getVersion(version) {
      const r = await first('SELECT * FROM control_desired WHERE version = ?', [version])
      return r ? toDesired(r) : null
    },
    async setVersionStatus(version, status) {
      await db.all('UPDATE control_desired SET status = ? WHERE version = ?', [status, version])
    },
    async listVersions(q) {
      const conds: Array<[string, unknown]> = [
        ["(target_kind = 'node' AND target_id = ?)", q.node],
        ["(target_kind = 'group' AND target_id = ?)", q.group],
      ]
      return (await list('control_desired', conds, ' OR ', 'version', q.limit)).map(toDesired)
    },
    latestPublished: async () => (await db.all(LATEST_PUBLISHED, [])).map(toDesired),
    async putReport(r) {
      await db.all(UPSERT_REPORT, [r.nodeId, r.version, r.status, r.health, r.reason, r.code, r.at])
    },
    async listReports(q) {
      const w = where(
        [
          ['node_id = ?', q.nodeId],
          ['version = ?', q.version],
        ],
        ' AND ',
      )
      const sql = `SELECT * FROM control_reports ${w.sql} ORDER BY at DESC, version DESC LIMIT ?`
      return (await db.all(sql, [...w.args, q.limit ?? 100])).map(toReport)
    },
    async putRollout(r) {
      const canary = JSON.stringify(r.canary)
      const args = [
        r.id,
        r.group,
        r.version,
        canary,
        r.state,
        r.timeoutMs,
        r.startedAt,
        r.updatedAt,
        r.reason,
      ]
      await db.all(UPSERT_ROLLOUT, args)
    },
    async getRollout(id) {
      const r = await first('SELECT * FROM control_rollouts WHERE id = ?', [id])
      return r ? toRollout(r) : null
    },
    async listRollouts(q) {
      const conds: Array<[string, unknown]> = [
        ['grp = ?', q.group],
        ['state = ?', q.state],
      ]
      return (await list('control_rollouts', conds, ' AND ', 'started_at', q.limit)).map(toRollout)
    },
    close: () => db.close(),
  }
}
