/** A sensor reading after decoding: one number for one sensor/metric at one time. */
export interface Reading {
  sensorId: string
  metric: string
  value: number
  /** epoch milliseconds (event time if the payload carried one, else arrival time) */
  ts: number
  /** extra decoded fields, e.g. unit or quality */
  fields?: Record<string, unknown>
}

/** Aggregates of one window for one group key. */
export interface Summary {
  pipelineId: string
  sensorId: string
  metric: string
  /** window start and end, epoch ms, end exclusive */
  start: number
  end: number
  count: number
  min: number
  max: number
  mean: number
  sum: number
  /** further aggregates by name: stddev, p95, first, last, rate ... */
  aggs?: Record<string, number>
  /** true when this summary replaces an earlier one for the same window (late data) */
  correction?: boolean
  /** true when the window was emitted before its end because its pipeline was replaced or removed */
  partial?: boolean
}

export type EventKind = 'enter' | 'leave' | 'anomaly' | 'info'

/** Something that happened: a threshold crossed, an anomaly found. */
export interface FogEvent {
  pipelineId: string
  sensorId: string
  metric: string
  ts: number
  kind: EventKind
  name: string
  value: number
  severity?: 'info' | 'warning' | 'critical'
  detail?: Record<string, unknown>
}

export const DATA_STREAMS = ['event', 'summary', 'raw'] as const
export type DataStream = (typeof DATA_STREAMS)[number]
export const CONTROL_STREAMS = ['reported', 'heartbeat'] as const
export type UpStream = DataStream | (typeof CONTROL_STREAMS)[number]

/** Default priority per stream: lower number drains first and is dropped last. */
export const STREAM_PRIORITY: Record<DataStream, number> = { event: 0, summary: 1, raw: 2 }

/** One record on the wire: the delivery id (nodeId from the batch, stream, seq) plus its body. */
export interface WireRecord {
  seq: number
  /** epoch ms when the record was produced on the node */
  ts: number
  body: Summary | FogEvent | Reading | Record<string, unknown>
}

/** A batch of records of one stream from one node; seqs ascending. */
export interface Batch {
  nodeId: string
  stream: UpStream
  /** random id of this send attempt group; resends of the same records keep their seqs */
  batchId: string
  sentAt: number
  records: WireRecord[]
}

/** The cloud's statement that it committed these seqs of one stream (inclusive ranges). */
export interface Ack {
  stream: UpStream
  batchId: string
  ranges: Array<[number, number]>
  /** set when the batch was refused for good (dead-lettered); the node must not resend it */
  rejected?: { code: string; message: string }
}

/** Compress sorted seqs to inclusive ranges: [1,2,3,7] -> [[1,3],[7,7]] */
export function toRanges(seqs: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (const s of seqs) {
    const last = out[out.length - 1]
    if (last && s === last[1] + 1) last[1] = s
    else out.push([s, s])
  }
  return out
}

export function fromRanges(ranges: ReadonlyArray<readonly [number, number]>): number[] {
  const out: number[] = []
  for (const [a, b] of ranges) for (let s = a; s <= b; s++) out.push(s)
  return out
}

/**
 * Where a heartbeat or last will stands in its node's order: `boot` (the node's clock, ms, when its uplink
 * started: a later boot is newer) and `seq`, growing within a boot. The cloud applies a heartbeat or will only
 * when (boot, seq) is above the one it holds, so late and duplicate ones never move the fleet view back.
 */
export interface HeartbeatOrder {
  boot: number
  seq: number
}

/** Heartbeats of one connection are numbered inside its block; its last will takes the block's top. */
export const HEARTBEATS_PER_CONNECTION = 2 ** 32

/** The seq of heartbeat `n` (from 0) sent on connection `conn` (from 1) of a boot. */
export function heartbeatSeq(conn: number, n: number): number {
  return conn * HEARTBEATS_PER_CONNECTION + Math.min(n, HEARTBEATS_PER_CONNECTION - 2)
}

/**
 * The seq a last will of connection `conn` carries: above every heartbeat of that connection (so a late
 * heartbeat does not bring a dead node back), below every heartbeat of the next (so a late will does not
 * mark a reconnected node offline).
 */
export function willSeq(conn: number): number {
  return conn * HEARTBEATS_PER_CONNECTION + HEARTBEATS_PER_CONNECTION - 1
}
