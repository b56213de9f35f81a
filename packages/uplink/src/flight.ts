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
  /** sends so far; the wait for an ack doubles with each (ackTimeout, 2x, 4x, 8x) */
  attempts: number
}

export interface FlightOptions {
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
  }
  readonly ackRate: RateWindow
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

  records(): number {
    let n = 0
    for (const f of this.inFlight.values()) n += f.seqs.length
    return n
  }

  send(client: MqttClient, stream: OutboxStream, recs: EncodedRecord[]): void {
    const batchId = `${this.idPrefix}-${(this.batchNo++).toString(36)}`
    const head = { nodeId: this.o.nodeId, stream, batchId, sentAt: this.o.clock.now() }
    const payload = encodeBatchSpliced(head, recs, this.o.wire)
    const f: InFlight = { batchId, stream, seqs: recs.map((r) => r.seq), payload, sentAt: 0, attempts: 0 }
    this.inFlight.set(batchId, f)
    this.counters.sent += recs.length
    this.counters.batchesSent++
    this.counters.bytesSent += payload.length
    this.publish(client, f, false)
  }

  /** a new connection: what is in flight goes again, same batchId and seqs (the store dedups) */
  resendAll(client: MqttClient): void {
    for (const f of this.inFlight.values()) this.publish(client, f, true)
  }

  /** resend after ackTimeout, then 2x, 4x, 8x: a cloud that is up but not acking is not flooded */
  resendDue(client: MqttClient, ackTimeout: number): void {
    const now = this.o.clock.now()
    for (const f of this.inFlight.values())
      if (now - f.sentAt >= ackTimeout * 2 ** Math.min(3, Math.max(0, f.attempts - 1)))
        this.publish(client, f, true)
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
    f.attempts++
    if (resend) this.counters.resent += f.seqs.length
    client.publish(this.topics.get(f.stream)!, f.payload, { qos: 1 })
  }
}
