import { randomBytes } from 'node:crypto'
import { type EncodedRecord, OUTBOX_STREAMS, type Outbox, type OutboxStream } from '@fogline/outbox'
import { type Ack, type Clock, type ErrorData, RateWindow, toErrorData, upTopic } from '@fogline/protocol'
import type { MqttClient } from 'mqtt'
import { ackFits, LogEvery } from './ack.js'
import type { UplinkLogger } from './types.js'
import { encodeBatchSpliced, type WireOptions } from './wire.js'

interface InFlight {
  batchId: string
  stream: OutboxStream
  seqs: number[]
  payload: Buffer
  sentAt: number
  /** sends so far; without acks meanwhile the wait for one doubles with each (deadline, 2x, 4x, 8x) */
  attempts: number
  /** past its ack deadline: it no longer holds a place in the in-flight window */
  overdue: boolean
  /** acks of other batches counted when this one was last sent: more since means the cloud is alive */
  acksAtSend: number
  /** taken from a stream's backlog (stored before the connection), not live */
  backlog: boolean
}

/**
 * Ack deadlines: a batch is overdue after DEADLINE_FACTOR × the p99 of the observed ack latency, at least
 * DEADLINE_MIN_MS and at most DEADLINE_MAX_MS or ackTimeout (the deadline until enough latencies were seen).
 * The cap keeps a hung replica's cost bounded when the latency itself is high (a loaded cloud).
 */
const DEADLINE_FACTOR = 3
const DEADLINE_MIN_MS = 1000
const DEADLINE_MAX_MS = 2000
const LATENCY_SAMPLES = 256
/**
 * An overdue batch goes this many times back to back: a broker that hands a shared subscription's messages
 * round robin (Mosquitto) gives consecutive copies to different replicas, so one hung replica cannot take both.
 */
const OVERDUE_COPIES = 2
/** overdue batches tracked beyond the window, as a multiple of maxInFlight: memory stays bounded */
export const OVERDUE_ROOM = 4

/** The last LATENCY_SAMPLES ack latencies (first sends only: a resend's ack cannot be matched to a send). */
class AckLatency {
  private readonly ring: number[] = []
  private next = 0
  private cached: number | null = null
  private stale = 0

  add(ms: number): void {
    if (this.ring.length < LATENCY_SAMPLES) this.ring.push(ms)
    else this.ring[this.next] = ms
    this.next = (this.next + 1) % LATENCY_SAMPLES
    // sorting 256 numbers on every ack is waste: the p99 is refreshed every 16 samples
    if (++this.stale >= 16 || this.cached === null) this.refresh()
  }

  /** null until 16 latencies were seen */
  p99(): number | null {
    return this.ring.length < 16 ? null : this.cached
  }

  private refresh(): void {
    const sorted = [...this.ring].sort((a, b) => a - b)
    this.cached = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? null
    this.stale = 0
  }
}

export interface FlightOptions {
  /** the backlog window's settings, read at each ack (desired state may change them) */
  backlogTuning: () => { start: number; target: number; max: number }
  nodeId: string
  outbox: Outbox
  clock: Clock
  wire: WireOptions
  logger?: UplinkLogger | undefined
  /** a failure the uplink shows as its lastError */
  onError(e: ErrorData): void
}

/**
 * Batches awaiting the cloud's application ack. Lifecycle: send → (resend)* → ack → the records are deleted
 * from the outbox (acks of one turn of the event loop in one transaction). Counts sent, resent, acked once,
 * and rejected (dead-lettered by the cloud for good, never resent).
 */
export class Flight {
  readonly counters = {
    sent: 0,
    acked: 0,
    resent: 0,
    rejected: 0,
    ackUnknown: 0,
    batchesSent: 0,
    bytesSent: 0,
    /** batches resent because their ack deadline passed */
    overdueResends: 0,
  }
  readonly ackRate: RateWindow
  readonly latency = new AckLatency()
  private overdueCount = 0
  /** backlog batches holding a place in the window (not overdue) */
  private backlogCount = 0
  /** how many backlog batches may hold a place now (see BacklogWindow) */
  private readonly backlogWin = new BacklogWindow()
  /** acks of known batches so far */
  private acks = 0
  private readonly inFlight = new Map<string, InFlight>()
  private readonly topics: Map<OutboxStream, string>
  private readonly pendingAcks = new Map<OutboxStream, Array<[number, number]>>()
  /** a turn of the event loop, not time: the deletes of one turn's acks share a transaction */
  private ackFlush: NodeJS.Immediate | null = null
  private readonly idPrefix = randomBytes(4).toString('hex')
  private batchNo = 0

  private readonly unknownLog: LogEvery

  constructor(private readonly o: FlightOptions) {
    this.ackRate = new RateWindow(o.clock, 10_000)
    this.unknownLog = new LogEvery(o.clock, 60_000)
    this.topics = new Map(OUTBOX_STREAMS.map((s) => [s, upTopic(o.nodeId, s)]))
  }

  get size(): number {
    return this.inFlight.size
  }

  /** batches holding a place in the in-flight window: the overdue ones do not */
  get active(): number {
    return this.inFlight.size - this.overdueCount
  }

  /** whether one more backlog batch may take a place in the window now */
  backlogRoom(): boolean {
    return this.backlogCount < this.backlogWin.limit()
  }

  /** a new connection: the backlog window starts again from its first size */
  restartBacklogWindow(): void {
    this.backlogWin.restart(this.o.backlogTuning().start)
  }

  /** how long a batch may wait for its ack before it is overdue (see DEADLINE_FACTOR) */
  deadline(ackTimeout: number): number {
    const p99 = this.latency.p99()
    if (p99 === null) return ackTimeout
    return Math.min(ackTimeout, DEADLINE_MAX_MS, Math.max(DEADLINE_MIN_MS, DEADLINE_FACTOR * p99))
  }

  records(): number {
    let n = 0
    for (const f of this.inFlight.values()) n += f.seqs.length
    return n
  }

  send(client: MqttClient, stream: OutboxStream, recs: EncodedRecord[], backlog = false): void {
    const batchId = `${this.idPrefix}-${(this.batchNo++).toString(36)}`
    const head = { nodeId: this.o.nodeId, stream, batchId, sentAt: this.o.clock.now() }
    const payload = encodeBatchSpliced(head, recs, this.o.wire)
    const seqs = recs.map((r) => r.seq)
    const f: InFlight = {
      batchId,
      stream,
      seqs,
      payload,
      sentAt: 0,
      attempts: 0,
      overdue: false,
      acksAtSend: 0,
      backlog,
    }
    this.inFlight.set(batchId, f)
    if (backlog) this.backlogCount++
    this.counters.sent += recs.length
    this.counters.batchesSent++
    this.counters.bytesSent += payload.length
    this.publish(client, f, false)
  }

  /** a new connection: what is in flight goes again, same batchId and seqs (the store dedups) */
  resendAll(client: MqttClient): void {
    for (const f of this.inFlight.values()) this.publish(client, f, true)
  }

  /**
   * Resend what is past its deadline, at once: other batches being acked meanwhile means the cloud is up and
   * this one met a hung replica, so it goes again (OVERDUE_COPIES times) for another to take. Without acks
   * meanwhile the wait doubles (2x, 4x, 8x), so a cloud that is up but not acking is not flooded.
   */
  resendDue(client: MqttClient, ackTimeout: number): void {
    const now = this.o.clock.now()
    const base = this.deadline(ackTimeout)
    for (const f of this.inFlight.values()) {
      const alive = this.acks > f.acksAtSend
      const wait = alive ? base : base * 2 ** Math.min(3, Math.max(0, f.attempts - 1))
      if (now - f.sentAt < wait) continue
      if (!f.overdue) {
        f.overdue = true
        this.overdueCount++
        if (f.backlog) {
          this.backlogCount--
          this.tuneBacklog(now - f.sentAt)
        }
      }
      this.counters.overdueResends++
      for (let i = 0; i < OVERDUE_COPIES; i++) this.publish(client, f, true)
    }
  }

  /** an application ack from the cloud: delete what it covers, count it once */
  ack(ack: Ack): void {
    const s = ack.stream as OutboxStream
    const f = this.inFlight.get(ack.batchId)
    // only a batch in flight, with that stream and only its own seqs: a forged, stale or pre-restart ack
    // deletes nothing (its records go again and the store absorbs the duplicate)
    if (!OUTBOX_STREAMS.includes(s) || !f || f.stream !== s || !ackFits(f.seqs, ack.ranges)) {
      this.counters.ackUnknown++
      if (this.unknownLog.due('ack'))
        this.o.logger?.warn(
          { batchId: ack.batchId, stream: ack.stream },
          'an ack for no batch in flight was ignored (ackUnknown; logged once a minute)',
        )
      return
    }
    let ranges = ack.ranges
    if (ack.rejected) {
      this.counters.rejected++
      this.o.logger?.warn({ batchId: ack.batchId, ...ack.rejected }, 'cloud rejected a batch')
      ranges = f.seqs.map((q) => [q, q] as [number, number])
    }
    this.queueAck(s, ranges)
    if (!f.seqs.every((q) => ranges.some(([a, b]) => q >= a && q <= b))) return
    this.inFlight.delete(f.batchId)
    this.acks++
    if (f.backlog && !f.overdue) this.backlogCount--
    if (f.overdue) this.overdueCount--
    // Karn's rule: only a batch sent once tells its latency
    else if (f.attempts === 1) {
      const ms = this.o.clock.now() - f.sentAt
      this.latency.add(ms)
      if (f.backlog) this.tuneBacklog(ms)
    }
    if (!ack.rejected) this.counted(f.seqs.length)
  }

  /** delete the acked records queued this turn, in one transaction per stream */
  flushAcks(): void {
    if (this.ackFlush) clearImmediate(this.ackFlush)
    this.ackFlush = null
    for (const [s, ranges] of this.pendingAcks) {
      try {
        this.o.outbox.ack(s, ranges)
      } catch (err) {
        // the records stay in the outbox and go again after a restart; the store absorbs that
        this.o.onError(toErrorData(err))
        this.o.logger?.warn({ err: (err as Error).message, stream: s }, 'acked records could not be deleted')
      }
    }
    this.pendingAcks.clear()
  }

  private tuneBacklog(ackMs: number): void {
    const t = this.o.backlogTuning()
    this.backlogWin.acked(ackMs, t.target, t.max, this.o.clock.now())
  }

  private counted(n: number): void {
    this.counters.acked += n
    this.ackRate.add(n)
  }

  private queueAck(s: OutboxStream, ranges: ReadonlyArray<readonly [number, number]>): void {
    let list = this.pendingAcks.get(s)
    if (!list) this.pendingAcks.set(s, (list = []))
    for (const [a, b] of ranges) list.push([a, b])
    this.ackFlush ??= setImmediate(() => this.flushAcks())
  }

  private publish(client: MqttClient, f: InFlight, resend: boolean): void {
    f.sentAt = this.o.clock.now()
    f.acksAtSend = this.acks
    f.attempts++
    if (resend) this.counters.resent += f.seqs.length
    client.publish(this.topics.get(f.stream)!, f.payload, { qos: 1 })
  }
}

/**
 * How many backlog batches may be in flight: the cloud takes one node's batches in order, so backlog ahead of
 * a live record is time that record waits. Delay-based, as LEDBAT, with TCP's slow start: from the start of a
 * drain each backlog ack back within `target` adds a batch (the window doubles per round trip) until one comes
 * back later or goes overdue; that halves it (at most once per `target`), and from then on it grows by one
 * batch per window's worth of timely acks; between 1 and `max`. A fast cloud opens it to `max` within a few
 * round trips, a slow store keeps it small, and the queue in front of live records stays near `target`.
 */
export class BacklogWindow {
  private win = 4
  private cutAt = Number.NEGATIVE_INFINITY
  private slowStart = true

  restart(start: number): void {
    this.win = Math.max(1, start)
    this.cutAt = Number.NEGATIVE_INFINITY
    this.slowStart = true
  }

  limit(): number {
    return Math.floor(this.win)
  }

  acked(ackMs: number, target: number, max: number, now: number): void {
    if (target <= 0) {
      this.win = max
      return
    }
    if (ackMs <= target) this.win = Math.min(max, this.win + (this.slowStart ? 1 : 1 / Math.max(1, this.win)))
    else if (now - this.cutAt >= target) {
      this.win = Math.max(1, this.win / 2)
      this.cutAt = now
      this.slowStart = false
    }
  }
}
