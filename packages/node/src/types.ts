import type { Broker } from '@fogline/broker'
import type { Outbox } from '@fogline/outbox'
import type { Engine } from '@fogline/pipeline'
import type { Clock, ErrorData } from '@fogline/protocol'
import type { Uplink } from '@fogline/uplink'
import type { DeadLetterStore } from './deadletters.js'
import type { DesiredAgent } from './desired/agent.js'
import type { AttachDesiredOptions } from './desired/attach.js'
import type { Logger } from './logger.js'
import type { NodeOps, OpsStats } from './ops/attach.js'

export interface NodeStats {
  nodeId: string
  readingsIn: number
  readingsPerSec: number
  oversize: number
  /** sensor clients refused for bad credentials */
  authFailures: number
  malformed: number
  deadLetters: number
  outputs: Record<string, number>
  backlogRecords: number
  backlogBytes: number
  oldestUnsentAgeMs: number | null
  sent: number
  acked: number
  resent: number
  /** batches resent because their ack deadline passed (a hung cloud replica held them) */
  overdueResends: number
  /** p99 of the uplink's recent ack latencies, ms (null until enough were seen) */
  ackLatencyP99Ms: number | null
  connected: boolean
  dropped: Record<string, number>
  /** the error that matters now, as data: a refused write, a start that lost state, why the cloud is unreachable */
  lastError: ErrorData | null
  /** readiness, pipelines under supervision, jobs (last run, result, next run), upload window, prediction */
  ops: OpsStats
}

/** A running fog node. Lifecycle: startNode → (ingest, uplink) → stop. */
export interface FogNode {
  readonly nodeId: string
  /** the local broker sensors publish to */
  readonly brokerUrl: string
  readonly broker: Broker
  readonly engine: Engine
  readonly outbox: Outbox
  readonly uplink: Uplink
  readonly deadLetters: DeadLetterStore
  /** the desired-state agent, when the node is configured with desiredKeys */
  readonly desired: DesiredAgent | undefined
  stats(): NodeStats
  /** metrics and health endpoint, supervision, schedules, prediction */
  readonly ops: NodeOps
  /** hot-reload a new pipeline set; throws FoglineError and keeps the running one when invalid */
  applyPipelines(raw: unknown, where?: { file?: string }): ReturnType<Engine['reload']>
  /** write a checkpoint now (also done every checkpoint.interval and on stop) */
  checkpoint(): Promise<void>
  stop(): Promise<void>
}

export interface StartNodeOptions {
  configFile?: string
  logger?: Logger
  clock?: Clock
  /** how often due windows are closed; default 100 ms */
  tickMs?: number
  /** desired-state agent options; false: do not attach one even when desiredKeys is set */
  desired?: AttachDesiredOptions | false
  /** the node cannot go on (outbox unwritable, results dropped): `fogline node` exits non-zero */
  onFatal?: (e: ErrorData) => void
}
