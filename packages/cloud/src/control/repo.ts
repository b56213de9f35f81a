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
