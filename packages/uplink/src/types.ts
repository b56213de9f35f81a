import type { Outbox, OutboxStats, OutboxStream } from '@fogline/outbox'
import type { Clock, ErrorData, UplinkConfig } from '@fogline/protocol'

export interface UplinkLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  debug?(obj: object, msg?: string): void
}

/** The settings desired state may change at run time. */
export type UplinkTunables = {
  [K in
    | 'batchMaxRecords'
    | 'batchMaxBytes'
    | 'linger'
    | 'ackTimeout'
    | 'maxInFlight'
    | 'backlogWindow'
    | 'backlogAckTarget'
    | 'deflate'
    | 'deflateLevel'
    | 'heartbeat'
    | 'drainRate']?: UplinkConfig[K] | undefined
}

export interface UplinkOptions {
  nodeId: string
  group: string
  outbox: Outbox
  /** parsed UplinkConfig */
  config: UplinkConfig
  clock?: Clock
  /** this boot's place in the node's heartbeat order (HeartbeatOrder): later boots higher; default clock.now() */
  boot?: number
  logger?: UplinkLogger
  /** the node's config file: uplink.tls paths resolve from its folder */
  configFile?: string | undefined
  /** down messages other than acks (desired, control) */
  onDown?: (topic: string, payload: Buffer) => void
  /**
   * Upload windows: whether records of `stream` may go up now. A stream it refuses waits in the outbox
   * (read again on the next pump or poll); unset: everything goes.
   */
  gate?: (stream: OutboxStream) => boolean
  /**
   * The heartbeat source, given at wiring time: called with this uplink's stats and the outbox's (each read
   * once) every config.heartbeat and at each connect; its result is published on up/heartbeat.
   */
  heartbeat?: (uplink: UplinkStats, outbox: OutboxStats) => object
}

export interface UplinkStats {
  connected: boolean
  /** URL of the cloud endpoint in use, or null */
  endpoint: string | null
  /** records sent for the first time */
  sent: number
  /** records the cloud acknowledged after its commit */
  acked: number
  /** records sent again (ack deadline passed, or reconnect) */
  resent: number
  /** batches resent because their ack deadline passed (a hung replica held them) */
  overdueResends: number
  /** p99 of the recent ack latencies (first sends), ms; null until enough were seen */
  ackLatencyP99Ms: number | null
  /** how long a batch waits for its ack before it is resent: 3 × p99, within [1 s, min(2 s, ackTimeout)] */
  ackDeadlineMs: number
  /** batches waiting for their ack */
  inFlight: number
  inFlightRecords: number
  /** records in the outbox not yet acked (includes those in flight) */
  backlogRecords: number
  backlogBytes: number
  /** age of the oldest record not yet acked; 0 when empty */
  oldestUnsentAgeMs: number
  /** seconds to drain the backlog at the recent ack rate; 0 when empty, null when nothing is moving */
  etaSec: number | null
  /** records per second acked, smoothed */
  ackRate: number
  /** batches the cloud refused for good (dead-lettered there) */
  rejected: number
  /** acks ignored: no batch in flight with that id, stream and seqs (forged, stale or from a past run) */
  ackUnknown: number
  batchesSent: number
  bytesSent: number
  failovers: number
  connects: number
  /** why the link is down or what last went wrong, as data */
  lastError: ErrorData | null
  /** per endpoint: 'closed' | 'open' | 'halfOpen' | 'isolated' */
  breakers: Record<string, string>
}

/**
 * Drains the outbox to the cloud and receives down messages. Lifecycle: create → start → (pause/resume) → stop.
 * @example const up = createUplink({ nodeId, group, outbox, config }); up.start() // then every outbox commit drains
 */
export interface Uplink {
  start(): void
  stop(): Promise<void>
  /** drop the link on purpose (demo) until resume(); records keep piling up in the outbox */
  pause(): void
  resume(): void
  /**
   * Change tunables at run time (desired state `uplink`): batch sizes, linger, ackTimeout, maxInFlight,
   * deflate, heartbeat, drainRate. Endpoints and credentials are not changeable here.
   */
  reconfigure(patch: UplinkTunables): void
  /** the settings in force */
  settings(): UplinkConfig
  /** pass the outbox's stats when they were just read, so one heartbeat reads them once */
  stats(outbox?: OutboxStats): UplinkStats
}
