import type { DataStream } from '@fogline/protocol'
import type { CompactResult } from './compact.js'

export type OutboxStream = DataStream | 'reported'

/** Streams in drain order (most important first); degradation goes the other way. */
export const OUTBOX_STREAMS: readonly OutboxStream[] = ['event', 'reported', 'summary', 'raw']

export interface AppendItem {
  stream: OutboxStream
  /** when the record was produced, epoch ms */
  ts: number
  body: Record<string, unknown> | object
  /** lower is more important; defaults to STREAM_PRIORITY[stream] */
  priority?: number
}

/**
 * KV entries committed with an append. A function is called when the group commit is cut, so what it
 * returns (e.g. a pipeline snapshot) covers every record queued before it; one function passed by several
 * appends of one commit is called once.
 */
export type AppendState = Record<string, unknown> | (() => Record<string, unknown>)

/** What one group commit added; given to `onCommit` listeners. */
export interface CommitInfo {
  records: number
  /** a record of priority 0 (an event, a report) was among them: send at once */
  urgent: boolean
}

export interface StoredRecord {
  stream: OutboxStream
  seq: number
  ts: number
  priority: number
  body: Record<string, unknown>
  /** encoded size in bytes */
  bytes: number
}

/** A record with its body as stored (msgpack bytes), for senders that splice it into a batch unchanged. */
export interface EncodedRecord {
  seq: number
  ts: number
  /** the body, msgpack-encoded */
  body: Buffer
  bytes: number
}

export interface OutboxStats {
  records: number
  bytes: number
  byStream: Record<string, { records: number; bytes: number; oldestTs: number | null; lastSeq: number }>
  oldestTs: number | null
  /**
   * records removed without being sent, by reason: `expired-{stream}`, `capacity-raw`, `rollup-summary`
   * (records merged away: n summaries → 1 counts n-1), `capacity-summary`, `capacity-event`, `corrupt-record`.
   * Invariant: records === appended - acked - sum(dropped) (since the file was created).
   */
  dropped: Record<string, number>
  appended: number
  /** append transactions committed since open (group commit: usually far fewer than append calls) */
  commits: number
  acked: number
  /** set when the file found at open was corrupt and moved aside */
  quarantined: QuarantineInfo | null
}

/** What happened when a corrupt outbox file was found at open. */
export interface QuarantineInfo {
  code: 'FOG_OUTBOX_CORRUPT'
  /** where the corrupt file now lives (`<path>.corrupt-<ts>`) */
  movedTo: string
  reason: string
  /** seqs of the fresh outbox start above this, so the cloud never mistakes new records for resends */
  seqFloor: number
  at: number
}

export interface ReadOptions {
  /** only records with seq <= untilSeq */
  untilSeq?: number
  /** a peek does not mark the records as sent (sent records are never rolled up or degraded first) */
  peek?: boolean
}

/**
 * The durable store-and-forward queue. Lifecycle: open → append → read → ack → close.
 * `seq` is assigned per stream at append, grows by one, and survives restarts.
 * A record leaves only when acked (after the cloud's commit), expired by TTL, or degraded
 * when full — the last two counted in `stats().dropped`.
 */
export interface Outbox {
  /** group-committed; resolves once the records (and `state`, in the same transaction) are durable */
  append(
    items: AppendItem[],
    /** `sync`: this commit is synced whatever `synchronous` says (putState: what the node was told) */
    opts?: { state?: AppendState; sync?: boolean },
  ): Promise<Array<{ stream: OutboxStream; seq: number }>>
  /** records of one stream with seq > afterSeq, ascending, at most `max` (and `maxBytes`) */
  read(
    stream: OutboxStream,
    afterSeq: number,
    max: number,
    maxBytes?: number,
    opts?: ReadOptions,
  ): StoredRecord[]
  /** like read(), but bodies stay msgpack bytes (the drain's hot path: no decode and re-encode) */
  readEncoded(
    stream: OutboxStream,
    afterSeq: number,
    max: number,
    maxBytes?: number,
    opts?: ReadOptions,
  ): EncodedRecord[]
  /** delete acknowledged seqs; returns how many were deleted (already-gone seqs are fine) */
  ack(stream: OutboxStream, seqs: ReadonlyArray<number> | ReadonlyArray<readonly [number, number]>): number
  getState<T = unknown>(key: string): T | undefined
  putState(key: string, value: unknown): Promise<void>
  /** last seq assigned per stream (0 if none) */
  lastSeq(stream: OutboxStream): number
  /**
   * Call `listener` after every group commit that added records (the uplink drains on it); returns an
   * unsubscribe function.
   * @example const off = outbox.onCommit(({ urgent }) => pumpSoon(urgent ? 0 : linger))
   */
  onCommit(listener: (info: CommitInfo) => void): () => void
  stats(): OutboxStats
  /** set when the file found at open was corrupt and moved aside; also passed to `onCorrupt` */
  readonly quarantined: QuarantineInfo | null
  /** give free pages back to the file system, writing at most ~2 × maxBytes (housekeeping) */
  compact(maxBytes: number): CompactResult
  close(): Promise<void>
}
