import { type EncodedRecord, OUTBOX_STREAMS, type Outbox, type OutboxStream } from '@fogline/outbox'
import type { Clock, UplinkConfig } from '@fogline/protocol'

type DrainConfig = Pick<UplinkConfig, 'batchMaxRecords' | 'batchMaxBytes' | 'drainRate'>

/**
 * What to send next from the outbox. At each (re)connect what the outbox holds is each stream's backlog;
 * records appended afterwards are live. Live records go first by stream priority, uncapped; then the backlog
 * oldest-first, by the same priority, capped at `drainRate` records/s (token bucket, at most 0.2 s of burst).
 * Lifecycle: create → (connected → next*)*.
 */
export class Drain {
  /** per stream: the last seq handed out of the backlog (or of everything when there is no backlog) */
  private readonly cursor = new Map<OutboxStream, number>(OUTBOX_STREAMS.map((s) => [s, 0]))
  /** per stream with a backlog: the last live seq handed out */
  private readonly liveCursor = new Map<OutboxStream, number>()
  /** per stream: the backlog is seqs in (cursor, until] */
  private readonly backlog = new Map<OutboxStream, number>()
  private tokens = 0
  private tokensAt: number

  constructor(
    private readonly outbox: Outbox,
    private readonly clock: Clock,
    private readonly cfg: () => DrainConfig,
  ) {
    this.tokensAt = clock.now()
  }

  /** a new connection: everything stored now is backlog; records appended from here on go ahead of it */
  connected(): void {
    this.tokens = 0
    this.tokensAt = this.clock.now()
    for (const s of OUTBOX_STREAMS) {
      const last = this.outbox.lastSeq(s)
      if (!this.backlog.has(s) && this.cursor.get(s)! < last) {
        this.backlog.set(s, last)
        this.liveCursor.set(s, last)
      }
    }
  }

  /**
   * The next batch to send, from the streams `gate` lets go now; null when there is nothing. `backlog: false`
   * asks for live records only (the window's backlog places are taken).
   */
  next(
    gate?: (s: OutboxStream) => boolean,
    backlog = true,
  ): { stream: OutboxStream; recs: EncodedRecord[]; backlog: boolean } | null {
    for (const stream of OUTBOX_STREAMS) {
      if (gate && !gate(stream)) continue
      const recs = this.readLive(stream)
      if (recs.length) return { stream, recs, backlog: false }
    }
    if (!backlog) return null
    for (const stream of OUTBOX_STREAMS) {
      if (gate && !gate(stream)) continue
      const recs = this.readBacklog(stream)
      if (recs.length) return { stream, recs, backlog: true }
    }
    return null
  }

  private refill(): void {
    const cfg = this.cfg()
    const now = this.clock.now()
    // at most a fifth of a second of burst (or one batch), so the cap holds over short spans too
    const cap = Math.max(cfg.batchMaxRecords, cfg.drainRate * 0.2)
    this.tokens = Math.min(cap, this.tokens + ((now - this.tokensAt) / 1000) * cfg.drainRate)
    this.tokensAt = now
  }

  /** the next batch of live records of a stream (or of all its records when it has no backlog) */
  private readLive(s: OutboxStream): EncodedRecord[] {
    const cfg = this.cfg()
    const cur = this.backlog.has(s) ? this.liveCursor : this.cursor
    const recs = this.outbox.readEncoded(s, cur.get(s)!, cfg.batchMaxRecords, cfg.batchMaxBytes)
    if (recs.length) cur.set(s, recs[recs.length - 1]!.seq)
    return recs
  }

  private readBacklog(s: OutboxStream): EncodedRecord[] {
    const until = this.backlog.get(s)
    if (until === undefined) return []
    const cfg = this.cfg()
    let max = cfg.batchMaxRecords
    if (cfg.drainRate > 0) {
      this.refill()
      max = Math.min(max, Math.floor(this.tokens))
      if (max <= 0) return []
    }
    const recs = this.outbox.readEncoded(s, this.cursor.get(s)!, max, cfg.batchMaxBytes, { untilSeq: until })
    if (recs.length === 0) {
      // backlog drained: the stream is all live again
      this.backlog.delete(s)
      this.cursor.set(s, Math.max(this.cursor.get(s)!, this.liveCursor.get(s) ?? 0))
      return []
    }
    this.cursor.set(s, recs[recs.length - 1]!.seq)
    if (cfg.drainRate > 0) this.tokens -= recs.length
    return recs
  }
}
