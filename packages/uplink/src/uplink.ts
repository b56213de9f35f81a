import type { OutboxStats } from '@fogline/outbox'
import {
  type Clock,
  decodeAck,
  downTopic,
  encodeMessage,
  groupDesiredTopic,
  heartbeatSeq,
  systemClock,
  TOPIC_ROOT,
  toErrorData,
  type UplinkConfig,
  upTopic,
  willSeq,
} from '@fogline/protocol'
import type { MqttClient } from 'mqtt'
import { Drain } from './drain.js'
import { Flight, OVERDUE_ROOM } from './flight.js'
import { Link } from './link.js'
import { uplinkTls } from './tls.js'
import type { Uplink, UplinkOptions, UplinkStats, UplinkTunables } from './types.js'

const BREAKER_STATES = ['closed', 'open', 'halfOpen', 'isolated']

/**
 * Create the uplink: drains the outbox as Batch messages (QoS 1) and deletes records only on the cloud's
 * application ack (fogline/v1/{node}/down/ack), never on PUBACK. Unacked batches are resent with the same
 * batchId and seqs after ackTimeout and after every reconnect. Drain order: resends, then live records
 * (appended since the last connect) by stream priority, then the backlog oldest-first up to `drainRate`.
 * It drains on the outbox's commits (`outbox.onCommit`), on a poll, and after each ack.
 * @example const up = createUplink({ nodeId: 'n1', group: 'g', outbox, config }); up.start()
 */
export function createUplink(o: UplinkOptions): Uplink {
  return new UplinkImpl(o)
}

class UplinkImpl implements Uplink {
  // a copy: desired state may change the tunables at run time (reconfigure); endpoints never change
  private cfg: UplinkConfig
  private readonly clock: Clock
  private readonly wire: { deflate: boolean | 'auto'; minDeflateBytes: number; level: number }
  private readonly ackTopic: string
  private readonly hbTopic: string
  private readonly link: Link
  private readonly drain: Drain
  private readonly flight: Flight
  private client: MqttClient | null = null
  private started = false
  private paused = false
  private lastProgressAt: number
  private stalls = 0
  private pollTimer: unknown = null
  private hbTimer: unknown = null
  /** a pending pump: at `pumpAt`, on the clock, or on the next turn (`immediate`) */
  private pumpTimer: unknown = null
  private pumpImmediate: NodeJS.Immediate | null = null
  private pumpAt = Number.POSITIVE_INFINITY
  private offCommit: (() => void) | null = null
  // heartbeat order (protocol HeartbeatOrder): this boot; the connection a will was last made for (each
  // connect makes one); the connection heartbeats go on and how many went on it
  private readonly boot: number
  private willConn = 0
  private hbConn = 0
  private hbN = 0

  constructor(private readonly o: UplinkOptions) {
    this.cfg = { ...o.config }
    this.clock = o.clock ?? systemClock
    this.lastProgressAt = this.clock.now()
    this.boot = o.boot ?? this.clock.now()
    this.ackTopic = downTopic(o.nodeId, 'ack')
    this.hbTopic = upTopic(o.nodeId, 'heartbeat')
    this.wire = {
      deflate: this.cfg.deflate,
      minDeflateBytes: this.cfg.minDeflateBytes,
      level: this.cfg.deflateLevel,
    }
    this.drain = new Drain(o.outbox, this.clock, () => this.cfg)
    this.flight = new Flight({
      backlogTuning: () => ({
        start: this.cfg.backlogWindow,
        target: this.cfg.backlogAckTarget,
        max: this.cfg.maxInFlight,
      }),
      nodeId: o.nodeId,
      outbox: o.outbox,
      clock: this.clock,
      wire: this.wire,
      logger: o.logger,
      onError: (e) => {
        this.link.lastError = e
      },
    })
    this.link = this.createLink()
  }

  private createLink(): Link {
    const { o, clock } = this
    const will = () => {
      const seq = willSeq(++this.willConn)
      const body = { ts: clock.now(), online: false, group: o.group, boot: this.boot, seq }
      return { topic: this.hbTopic, payload: encodeMessage(body) }
    }
    const subscriptions = [`${TOPIC_ROOT}/${o.nodeId}/down/#`, groupDesiredTopic(o.group)]
    return new Link(
      {
        clientId: `fogline-node-${o.nodeId}`,
        config: this.cfg,
        subscriptions,
        will,
        logger: o.logger,
        clock,
        tls: uplinkTls(this.cfg.tls, { configFile: o.configFile, logger: o.logger }),
      },
      {
        connected: (cl) => this.connected(cl),
        disconnected: () => {
          this.client = null
        },
        message: (topic, payload) => {
          if (topic === this.ackTopic) this.onAck(payload)
          else o.onDown?.(topic, payload)
        },
      },
    )
  }

  private connected(cl: MqttClient): void {
    this.client = cl
    this.hbConn = this.willConn
    this.hbN = 0
    this.lastProgressAt = this.clock.now()
    this.flight.resendAll(cl)
    this.flight.restartBacklogWindow()
    this.drain.connected()
    this.sendHeartbeat()
    this.pumpSoon(0)
  }

  private pump(): void {
    const cl = this.client
    if (!cl || this.paused) return
    const now = this.clock.now()
    const { ackTimeout, maxInFlight } = this.cfg
    this.flight.resendDue(cl, ackTimeout)
    if (this.flight.size > 0 && now - this.lastProgressAt > 3 * ackTimeout * 2 ** Math.min(4, this.stalls)) {
      // the socket looks up but nothing comes back (blackhole, lost session): start over on a fresh
      // connection; done less often each time in a row that it does not help
      this.link.reconnect(`no ack for ${now - this.lastProgressAt} ms`)
      this.stalls++
      this.lastProgressAt = now
      return
    }
    // overdue batches leave the window (a hung replica holds them, not the node), up to OVERDUE_ROOM windows;
    // backlog batches take the places the backlog window allows, so live records never queue behind a full window
    while (this.flight.active < maxInFlight && this.flight.size < maxInFlight * OVERDUE_ROOM && this.client) {
      const next = this.drain.next(this.o.gate, this.flight.backlogRoom())
      if (!next) break
      this.flight.send(this.client, next.stream, next.recs, next.backlog)
    }
  }

  /** an urgent request (events) replaces a later one; a zero delay runs on the next turn, not on the clock */
  private pumpSoon(ms: number): void {
    const at = this.clock.now() + Math.max(0, ms)
    if (this.pumpTimer !== null || this.pumpImmediate) {
      if (at >= this.pumpAt) return
      this.cancelPump()
    }
    this.pumpAt = at
    const run = () => {
      this.pumpTimer = null
      this.pumpImmediate = null
      this.pumpAt = Number.POSITIVE_INFINITY
      try {
        this.pump()
      } catch (err) {
        this.link.lastError = toErrorData(err)
        this.o.logger?.warn({ err: (err as Error).message }, 'uplink pump failed')
      }
    }
    // setImmediate: a turn of the event loop, not time (setTimeout(0) is clamped to ~1 ms)
    if (ms <= 0) this.pumpImmediate = setImmediate(run)
    else this.pumpTimer = this.clock.setTimeout(run, ms)
  }

  private cancelPump(): void {
    if (this.pumpTimer !== null) this.clock.clearTimeout(this.pumpTimer)
    if (this.pumpImmediate) clearImmediate(this.pumpImmediate)
    this.pumpTimer = null
    this.pumpImmediate = null
    this.pumpAt = Number.POSITIVE_INFINITY
  }

  private onAck(payload: Buffer): void {
    let ack: ReturnType<typeof decodeAck>
    try {
      ack = decodeAck(payload, { topic: this.ackTopic })
    } catch (err) {
      this.o.logger?.warn({ err: (err as Error).message }, 'undecodable ack ignored')
      return
    }
    this.flight.ack(ack)
    this.lastProgressAt = this.clock.now()
    this.stalls = 0
    this.pumpSoon(0)
  }

  /**
   * The heartbeat source gets this uplink's stats and the outbox's, read once, and asks nothing back; the
   * body carries its place in the order: after this connection's earlier heartbeats, before its will.
   */
  private heartbeatBody(patch: object = {}): object {
    const ob = this.o.outbox.stats()
    const seq = heartbeatSeq(this.hbConn, this.hbN++)
    return { ...this.o.heartbeat!(this.stats(ob), ob), ...patch, boot: this.boot, seq }
  }

  private sendHeartbeat(): void {
    if (!this.client || !this.o.heartbeat) return
    try {
      this.client.publish(this.hbTopic, encodeMessage(this.heartbeatBody()), { qos: 0 })
    } catch (err) {
      this.o.logger?.warn({ err: (err as Error).message }, 'heartbeat not sent')
    }
  }

  start(): void {
    if (this.started) return
    this.started = true
    // the outbox tells us of every commit: urgent ones (events, reports) go out at once, the rest after `linger`
    this.offCommit = this.o.outbox.onCommit(({ urgent }) => this.pumpSoon(urgent ? 0 : this.cfg.linger))
    this.link.start()
    this.pollTimer = this.clock.setInterval(() => this.pumpSoon(0), this.cfg.pollInterval)
    this.hbTimer = this.clock.setInterval(() => this.sendHeartbeat(), this.cfg.heartbeat)
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    this.offCommit?.()
    this.offCommit = null
    this.clock.clearInterval(this.pollTimer)
    this.clock.clearInterval(this.hbTimer)
    this.pollTimer = this.hbTimer = null
    this.cancelPump()
    if (this.client && this.o.heartbeat)
      this.client.publish(this.hbTopic, encodeMessage(this.heartbeatBody({ online: false })), { qos: 0 })
    await this.link.stop(true)
    this.client = null
    this.flight.flushAcks()
  }

  pause(): void {
    if (this.paused) return
    this.paused = true
    void this.link.stop(false)
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    if (this.started) this.link.start()
  }

  reconfigure(patch: UplinkTunables): void {
    const next = { ...this.cfg }
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) (next as Record<string, unknown>)[k] = v
    const hbChanged = next.heartbeat !== this.cfg.heartbeat
    this.cfg = next
    this.wire.deflate = next.deflate
    this.wire.level = next.deflateLevel
    if (this.started && hbChanged) {
      this.clock.clearInterval(this.hbTimer)
      this.hbTimer = this.clock.setInterval(() => this.sendHeartbeat(), next.heartbeat)
    }
    this.pumpSoon(0)
  }

  settings(): UplinkConfig {
    return { ...this.cfg }
  }

  stats(os: OutboxStats = this.o.outbox.stats()): UplinkStats {
    const rate = this.flight.ackRate.perSecond()
    const breakers: Record<string, string> = {}
    this.cfg.urls.forEach((u, i) => {
      const st = this.link.breakers[i]!.state
      breakers[u] = BREAKER_STATES[st] ?? String(st)
    })
    return {
      connected: this.client !== null,
      endpoint: this.link.endpoint,
      ...this.flight.counters,
      inFlight: this.flight.size,
      ackLatencyP99Ms: this.flight.latency.p99(),
      ackDeadlineMs: this.flight.deadline(this.cfg.ackTimeout),
      inFlightRecords: this.flight.records(),
      backlogRecords: os.records,
      backlogBytes: os.bytes,
      oldestUnsentAgeMs: os.oldestTs === null ? 0 : Math.max(0, this.clock.now() - os.oldestTs),
      etaSec: os.records === 0 ? 0 : rate > 0 ? Math.ceil(os.records / rate) : null,
      ackRate: rate,
      failovers: this.link.failovers,
      connects: this.link.connects,
      lastError: this.link.lastError,
      breakers,
    }
  }
}
