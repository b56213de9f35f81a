import type { Batch, DataStream, ErrorData, Summary } from '@fogline/protocol'
import type { RetentionCutoffs, RetentionResult } from './retention.js'

/** One stored summary (stream 'summary'); `seq` is the node's delivery seq. */
export interface SummaryRow extends Omit<Summary, 'aggs'> {
  nodeId: string
  stream: 'summary'
  seq: number
  /** further aggregates by name, null when the window had none */
  aggs: Record<string, number> | null
}

export interface EventRow {
  nodeId: string
  stream: 'event'
  seq: number
  pipelineId: string
  sensorId: string
  metric: string
  ts: number
  kind: string
  name: string
  value: number
  severity: string | null
  detail: Record<string, unknown> | null
}

export interface DeadLetterRow {
  id: number
  receivedAt: number
  nodeId: string | null
  stream: string | null
  /** set when one record of a batch was refused (its body), null when the whole message was */
  seq: number | null
  topic: string
  code: string
  reason: string
  bytes: number
}

export interface SummaryQuery {
  nodeId?: string | undefined
  sensorId?: string | undefined
  metric?: string | undefined
  pipelineId?: string | undefined
  /** window start >= from (epoch ms) */
  from?: number | undefined
  /** window start < to (epoch ms) */
  to?: number | undefined
  /** bucket size in ms: rows are re-aggregated per (node, pipeline, sensor, metric, bucket) */
  resolution?: number | undefined
  /** newest rows first when limited; default 10 000 */
  limit?: number | undefined
}

export interface EventQuery {
  nodeId?: string | undefined
  sensorId?: string | undefined
  from?: number | undefined
  to?: number | undefined
  limit?: number | undefined
}

/** What the node said in its last heartbeat (see the team brief). */
export interface HeartbeatBody {
  /** the node's clock when it sent this */
  ts?: number
  /** HeartbeatOrder: the node's boot and the heartbeat's place in it */
  boot?: number
  seq?: number
  online?: boolean
  group?: string
  readingsIn?: number
  readingsPerSec?: number
  backlogRecords?: number
  backlogBytes?: number
  oldestUnsentAgeMs?: number | null
  etaSec?: number | null
  outboxFullAt?: number | null
  dropped?: Record<string, number>
  configVersion?: number | string | null
  diskFreeBytes?: number | null
  /** ErrorData from current nodes; a `"FOG_…: sentence"` string from older ones */
  lastError?: ErrorData | string | null
  sent?: number
  acked?: number
  [k: string]: unknown
}

/** The fleet registry's stored view of a node; online/offline is derived from it by the fleet module. */
export interface NodeRow {
  nodeId: string
  group: string | null
  /** the last status the node itself declared: heartbeat true, last will / goodbye false */
  declaredOnline: boolean
  firstSeen: number
  /** cloud clock, ms, of the last heartbeat or reported message */
  lastSeen: number
  heartbeat: HeartbeatBody | null
  reported: Record<string, unknown> | null
  reportedAt: number | null
  summaries: number
  events: number
}

export interface InsertResult {
  /** every seq of the batch: stored now, stored before, or dead-lettered; all are acked */
  seqs: number[]
  /** records whose body could not be stored; dead-lettered in the same transaction */
  bad: Array<{ seq: number; reason: string }>
  /** records newly stored */
  inserted: number
  /** records already stored (a resend) */
  duplicates: number
  /** the newly stored summary / event rows, for live streams */
  summaries: SummaryRow[]
  events: EventRow[]
}

export interface DeadLetterInput {
  receivedAt: number
  nodeId: string | null
  stream?: string | null
  seq?: number | null
  topic: string
  code: string
  reason: string
  payload: Uint8Array
}

/** What one migration run did: the version before and after, and the steps applied now (migrations.ts). */
export interface MigrationResult {
  from: number
  to: number
  applied: number[]
}

/**
 * The cloud store. Lifecycle: open → migrate (inside open) → insertBatch / queries → close.
 * insertBatch is idempotent on (nodeId, stream, seq) and commits the whole batch in one transaction.
 * @example const store = await openSqliteStore({ path: 'cloud.db' }); await store.insertBatch(batch, Date.now())
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres'
  /** what opening did to the schema: the version before and after, the steps applied (migrations.ts) */
  readonly migration: MigrationResult
  /** one round trip to the database; throws while it is unreachable (readiness) */
  ping(): Promise<void>
  insertBatch(batch: Batch & { stream: DataStream }, receivedAt: number): Promise<InsertResult>
  querySummaries(q?: SummaryQuery): Promise<SummaryRow[]>
  queryEvents(q?: EventQuery): Promise<EventRow[]>
  countRecords(q?: { nodeId?: string | undefined; stream?: DataStream | undefined }): Promise<number>
  /** the last seq stored per stream for a node (0 when none) */
  maxSeq(nodeId: string, stream: DataStream): Promise<number>
  addDeadLetter(d: DeadLetterInput): Promise<number>
  listDeadLetters(q?: { nodeId?: string | undefined; limit?: number | undefined }): Promise<DeadLetterRow[]>
  /**
   * Heartbeat (online true/false) from the node or its last will, applied only when its (boot, seq) is newer
   * than the one held (HeartbeatOrder in protocol); returns whether it was applied.
   */
  recordHeartbeat(nodeId: string, body: HeartbeatBody, now: number): Promise<boolean>
  /**
   * Latest reported state. With `seq` (reported records that came through the node's outbox) an older or
   * equal seq than the one stored is ignored, so a late resend never rolls the state back; returns whether it was applied.
   */
  recordReported(nodeId: string, body: Record<string, unknown>, now: number, seq?: number): Promise<boolean>
  /** stored summary or event rows of one node by seq ranges (inclusive), ascending */
  recordsBySeq(
    nodeId: string,
    stream: 'summary' | 'event',
    ranges: ReadonlyArray<readonly [number, number]>,
  ): Promise<Array<SummaryRow | EventRow>>
  /**
   * Changes committed through OTHER store instances on the same database (other aggregator replicas), for
   * live streams. PostgreSQL only (LISTEN/NOTIFY); resolves to an unsubscribe function.
   */
  watch?(fn: (c: StoreChange) => void): Promise<() => Promise<void>>
  listNodes(): Promise<NodeRow[]>
  getNode(nodeId: string): Promise<NodeRow | null>
  /** retention: summaries ending before `rollupBefore` become hourly; those before `deleteBefore` go (idempotent) */
  retain(c: RetentionCutoffs): Promise<RetentionResult>
  close(): Promise<void>
}

/** What another replica committed: new rows of a stream (by seq ranges), or a change to a node's fleet entry. */
export type StoreChange =
  | { kind: 'rows'; nodeId: string; stream: 'summary' | 'event'; ranges: Array<[number, number]> }
  | { kind: 'node'; nodeId: string }

export const DEFAULT_LIMIT = 10_000
export const MAX_LIMIT = 100_000
