import type { DesiredEnvelope, DesiredState, DesiredTarget } from '@fogline/protocol'

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
