import { EventEmitter } from 'node:events'
import type { ErrorData } from '@fogline/protocol'
import type { DeadLetterRow, EventRow, SummaryRow } from '../store/index.js'

/** Fleet view of one node as the API returns it. */
export interface NodeView {
  nodeId: string
  group: string | null
  online: boolean
  lastSeen: number
  firstSeen: number
  readingsPerSec: number
  readingsIn: number
  backlogRecords: number
  backlogBytes: number
  oldestUnsentAgeMs: number | null
  etaSec: number | null
  /** when the node predicts its outbox reaches capacity (node clock, ms), or null when it does not */
  outboxFullAt: number | null
  diskFreeBytes: number | null
  dropped: Record<string, number>
  configVersion: number | string | null
  /** the anomaly models the node holds, by name: kind, version, when trained (null: written by hand) */
  models: Record<string, { kind: string; version: number; trainedAt: number | null }>
  /** the node's last error as data; an old node's string is read as `{ code, message, where: {} }` */
  lastError: ErrorData | null
  sent: number
  acked: number
  resent: number
  /** batches the cloud refused for good */
  rejected: number
  failovers: number
  /** the cloud endpoint the node's uplink uses */
  endpoint: string | null
  /** readings the node could not decode, and all it set aside */
  malformed: number
  /** payloads over broker.maxPayload, and sensor clients refused for bad credentials */
  oversize: number
  authFailures: number
  deadLetters: number
  /** records made per stream (summary, event, raw) */
  outputs: Record<string, number>
  summaries: number
  events: number
  reported: Record<string, unknown> | null
  reportedAt: number | null
}

/** In-process events of one aggregator (what it ingested); feeds SSE, metrics and control. */
export interface CloudEvents {
  summary: [SummaryRow]
  event: [EventRow]
  node: [NodeView]
  reported: [nodeId: string, body: Record<string, unknown>]
  deadletter: [Omit<DeadLetterRow, 'id'>]
}

export class CloudBus extends EventEmitter<CloudEvents> {
  constructor() {
    super()
    // SSE clients each add listeners
    this.setMaxListeners(0)
  }
}
