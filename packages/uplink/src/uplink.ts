import { randomBytes } from 'node:crypto'
import { type EncodedRecord, OUTBOX_STREAMS, type OutboxStream } from '@fogline/outbox'
import {
  decodeAck,
  downTopic,
  encodeMessage,
  groupDesiredTopic,
  systemClock,
  TOPIC_ROOT,
  toErrorData,
  upTopic,
} from '@fogline/protocol'
import type { MqttClient } from 'mqtt'
import { Link } from './link.js'
import { RateWindow } from './rate.js'
import type { Uplink, UplinkOptions, UplinkStats } from './types.js'
import { encodeBatchSpliced } from './wire.js'

interface InFlight {
  batchId: string
  stream: OutboxStream
  seqs: number[]
  payload: Buffer
  sentAt: number
  /** sends so far; the wait for an ack doubles with each (ackTimeout, 2x, 4x, 8x) */
  attempts: number
}

/** Backlog of a stream after a (re)connect: seqs in (cursor, until] go after live records, oldest first. */
interface Backlog {
  until: number
}

/**
 * Create the uplink: drains the outbox as Batch messages (QoS 1) and deletes records only on the cloud's
 * application ack (fogline/v1/{node}/down/ack), never on PUBACK. Unacked batches are resent with the same
 * batchId and seqs after ackTimeout and after every reconnect. Drain order: resends, then live records
 * (appended since the last connect) by stream priority, then the backlog oldest-first up to `drainRate`.
 * @example const up = createUplink({ nodeId: 'n1', group: 'g', outbox, config }); up.start()
 */
export function createUplink(o: UplinkOptions): Uplink {
  // a copy: desired state may change the tunables at run time (reconfigure); endpoints never change
  let cfg = { ...o.config }
  const clock = o.clock ?? systemClock
  const outbox = o.outbox
  const ackTopic = downTopic(o.nodeId, 'ack')
  const topics = new Map(OUTBOX_STREAMS.map((s) => [s, upTopic(o.nodeId, s)]))
  const hbTopic = upTopic(o.nodeId, 'heartbeat')

  const wire = { deflate: cfg.deflate, minDeflateBytes: cfg.minDeflateBytes, level: cfg.deflateLevel }
  const inFlight = new Map<string, InFlight>()
  const cursor = new Map<OutboxStream, number>(OUTBOX_STREAMS.map((s) => [s, 0]))
  const liveCursor = new Map<OutboxStream, number>()
  const backlog = new Map<OutboxStream, Backlog>()
  const ackRate = new RateWindow(clock, 10_000)
  const c = {
    sent: 0,
    acked: 0,
    resent: 0,
    rejected: 0,
    batchesSent: 0,
    bytesSent: 0,
  }
  let client: MqttClient | null = null
  let started = false
  let paused = false
  let lastProgressAt = clock.now()
  let stalls = 0
  let tokens = 0
  let tokensAt = clock.now()
  let pumpTimer: NodeJS.Timeout | NodeJS.Immediate | null = null
  let pollTimer: NodeJS.Timeout | null = null
  let hbTimer: NodeJS.Timeout | null = null
  let batchNo = 0
  const idPrefix = randomBytes(4).toString('hex')

  const link = new Link(
    {
      clientId: `fogline-node-${o.nodeId}`,
      config: cfg,
      subscriptions: [`${TOPIC_ROOT}/${o.nodeId}/down/#`, groupDesiredTopic(o.group)],
      will: () => ({
        topic: hbTopic,
        payload: encodeMessage({ ts: clock.now(), online: false, group: o.group }),
      }),
      logger: o.logger,
    },
    {
      connected(cl) {
        client = cl
        lastProgressAt = clock.now()
        tokens = 0
        tokensAt = clock.now()
        // what is in flight goes again on the new connection, same batchId and seqs: the store dedups
        for (const f of inFlight.values()) publish(f, true)
        // live first: everything stored now is backlog; records appended from here on go ahead of it
        for (const s of OUTBOX_STREAMS) {
          const last = outbox.lastSeq(s)
          if (!backlog.has(s) && cursor.get(s)! < last) {
            backlog.set(s, { until: last })
            liveCursor.set(s, last)
          }
        }
        sendHeartbeat()
        pumpSoon(0)
      },
      disconnected() {
        client = null
      },
      message(topic, payload) {
        if (topic === ackTopic) onAck(payload)
        else o.onDown?.(topic, payload)
      },
    },
  )

  function publish(f: InFlight, resend: boolean): void {
    if (!client) return
    f.sentAt = clock.now()
    f.attempts++
    if (resend) c.resent += f.seqs.length
    client.publish(topics.get(f.stream)!, f.payload, { qos: 1 })
  }

  function send(stream: OutboxStream, recs: EncodedRecord[]): void {
    const head = {
      nodeId: o.nodeId,
      stream,
      batchId: `${idPrefix}-${(batchNo++).toString(36)}`,
      sentAt: clock.now(),
    }
    const payload = encodeBatchSpliced(head, recs, wire)
    const f: InFlight = {
      batchId: head.batchId,
      stream,
      seqs: recs.map((r) => r.seq),
      payload,
      sentAt: 0,
      attempts: 0,
    }
    inFlight.set(f.batchId, f)
    c.sent += recs.length
    c.batchesSent++
    c.bytesSent += payload.length
    publish(f, false)
  }

  function refill(): void {
    const now = clock.now()
    // at most a fifth of a second of burst (or one batch), so the cap holds over short spans too
    const cap = Math.max(cfg.batchMaxRecords, cfg.drainRate * 0.2)
    tokens = Math.min(cap, tokens + ((now - tokensAt) / 1000) * cfg.drainRate)
    tokensAt = now
  }

  /** the next batch of live records of a stream (or of all its records when it has no backlog) */
  function readLive(s: OutboxStream): EncodedRecord[] {
    const b = backlog.has(s)
    const after = b ? liveCursor.get(s)! : cursor.get(s)!
    const recs = outbox.readEncoded(s, after, cfg.batchMaxRecords, cfg.batchMaxBytes)
    if (recs.length) (b ? liveCursor : cursor).set(s, recs[recs.length - 1]!.seq)
    return recs
  }

  function readBacklog(s: OutboxStream): EncodedRecord[] {
    const b = backlog.get(s)
    if (!b) return []
    let max = cfg.batchMaxRecords
    if (cfg.drainRate > 0) {
      refill()
      max = Math.min(max, Math.floor(tokens))
      if (max <= 0) return []
    }
    const recs = outbox.readEncoded(s, cursor.get(s)!, max, cfg.batchMaxBytes, { untilSeq: b.until })
    if (recs.length === 0) {
      // backlog drained: the stream is all live again
      backlog.delete(s)
      cursor.set(s, Math.max(cursor.get(s)!, liveCursor.get(s) ?? 0))
      return []
    }
    cursor.set(s, recs[recs.length - 1]!.seq)
    if (cfg.drainRate > 0) tokens -= recs.length
    return recs
  }

  function pump(): void {
    if (!client || paused) return
    const now = clock.now()
    // resend after ackTimeout, then 2x, 4x, 8x: a cloud that is up but not acking is not flooded
    for (const f of inFlight.values())
      if (now - f.sentAt >= cfg.ackTimeout * 2 ** Math.min(3, Math.max(0, f.attempts - 1))) publish(f, true)
    if (inFlight.size > 0 && now - lastProgressAt > 3 * cfg.ackTimeout * 2 ** Math.min(4, stalls)) {
      // the socket looks up but nothing comes back (blackhole, lost session): start over on a fresh
      // connection; done less often each time in a row that it does not help
      link.reconnect(`no ack for ${now - lastProgressAt} ms`)
      stalls++
      lastProgressAt = now
      return
    }
    while (inFlight.size < cfg.maxInFlight && client) {
      let recs: EncodedRecord[] = []
      let stream: OutboxStream | undefined
      for (const s of OUTBOX_STREAMS) {
        if (o.gate && !o.gate(s)) continue
        recs = readLive(s)
        if (recs.length) {
          stream = s
          break
        }
      }
      if (!stream)
        for (const s of OUTBOX_STREAMS) {
          if (o.gate && !o.gate(s)) continue
          recs = readBacklog(s)
          if (recs.length) {
            stream = s
            break
          }
        }
      if (!stream) break
      send(stream, recs)
    }
  }

  // a pending pump at `pumpAt`; an urgent request (events) replaces a later one, and a zero delay runs on
  // setImmediate (setTimeout(0) is clamped to ~1 ms)
  let pumpAt = Number.POSITIVE_INFINITY
  function pumpSoon(ms: number): void {
    const at = Date.now() + ms
    if (pumpTimer) {
      if (at >= pumpAt) return
      clearTimeout(pumpTimer as NodeJS.Timeout)
      clearImmediate(pumpTimer as NodeJS.Immediate)
    }
    pumpAt = at
    const run = () => {
      pumpTimer = null
      pumpAt = Number.POSITIVE_INFINITY
      try {
        pump()
      } catch (err) {
        link.lastError = toErrorData(err)
        o.logger?.warn({ err: (err as Error).message }, 'uplink pump failed')
      }
    }
    pumpTimer = ms <= 0 ? setImmediate(run) : setTimeout(run, ms)
  }

  function onAck(payload: Buffer): void {
    let ack: ReturnType<typeof decodeAck>
    try {
      ack = decodeAck(payload, { topic: ackTopic })
    } catch (err) {
      o.logger?.warn({ err: (err as Error).message }, 'undecodable ack ignored')
      return
    }
    const s = ack.stream as OutboxStream
    if (!OUTBOX_STREAMS.includes(s)) return
    const f = inFlight.get(ack.batchId)
    let ranges = ack.ranges
    if (ack.rejected) {
      // dead-lettered by the cloud for good: never resend it
      c.rejected++
      o.logger?.warn({ batchId: ack.batchId, ...ack.rejected }, 'cloud rejected a batch')
      if (f) ranges = f.seqs.map((q) => [q, q] as [number, number])
    }
    // acks of known batches are deleted together, one transaction per turn of the event loop. An ack of an
    // unknown batch (the resend of one acked already, or a batch sent before a restart) counts only what it
    // deletes, after the queued deletes ran: else the same records were counted acked twice
    if (!f) flushAcks()
    const n = f ? 0 : outbox.ack(s, ranges)
    if (f) queueAck(s, ranges)
    if (f) {
      const covered = f.seqs.every((q) => ranges.some(([a, b]) => q >= a && q <= b))
      if (covered) {
        inFlight.delete(f.batchId)
        if (!ack.rejected) {
          c.acked += f.seqs.length
          ackRate.add(f.seqs.length)
        }
      }
    } else {
      c.acked += n
      ackRate.add(n)
    }
    lastProgressAt = clock.now()
    stalls = 0
    pumpSoon(0)
  }

  const pendingAcks = new Map<OutboxStream, Array<[number, number]>>()
  let ackFlush: NodeJS.Immediate | null = null
  function queueAck(s: OutboxStream, ranges: ReadonlyArray<readonly [number, number]>): void {
    let list = pendingAcks.get(s)
    if (!list) pendingAcks.set(s, (list = []))
    for (const [a, b] of ranges) list.push([a, b])
    ackFlush ??= setImmediate(flushAcks)
  }
  function flushAcks(): void {
    if (ackFlush) clearImmediate(ackFlush)
    ackFlush = null
    for (const [s, ranges] of pendingAcks) {
      try {
        outbox.ack(s, ranges)
      } catch (err) {
        // the records stay in the outbox and go again after a restart; the store absorbs that
        link.lastError = toErrorData(err)
        o.logger?.warn({ err: (err as Error).message, stream: s }, 'acked records could not be deleted')
      }
    }
    pendingAcks.clear()
  }

  /** the heartbeat source gets this uplink's stats and the outbox's, read once, and asks nothing back */
  function heartbeatBody(): object {
    const ob = outbox.stats()
    return o.heartbeat!(uplink.stats(ob), ob)
  }

  function sendHeartbeat(): void {
    if (!client || !o.heartbeat) return
    try {
      client.publish(hbTopic, encodeMessage(heartbeatBody()), { qos: 0 })
    } catch (err) {
      o.logger?.warn({ err: (err as Error).message }, 'heartbeat not sent')
    }
  }

  let offCommit: (() => void) | null = null
  const uplink: Uplink = {
    start() {
      if (started) return
      started = true
      // the outbox tells us of every commit: events (urgent) go out at once, the rest after `linger`
      offCommit = outbox.onCommit(({ urgent }) => pumpSoon(urgent ? 0 : cfg.linger))
      link.start()
      pollTimer = setInterval(() => pumpSoon(0), cfg.pollInterval)
      hbTimer = setInterval(sendHeartbeat, cfg.heartbeat)
      pollTimer.unref?.()
      hbTimer.unref?.()
    },
    async stop() {
      if (!started) return
      started = false
      offCommit?.()
      offCommit = null
      for (const t of [pollTimer, hbTimer]) if (t) clearInterval(t)
      if (pumpTimer) {
        clearTimeout(pumpTimer as NodeJS.Timeout)
        clearImmediate(pumpTimer as NodeJS.Immediate)
      }
      pumpAt = Number.POSITIVE_INFINITY
      pumpTimer = pollTimer = hbTimer = null
      if (client && o.heartbeat)
        client.publish(hbTopic, encodeMessage({ ...heartbeatBody(), online: false }), { qos: 0 })
      await link.stop(true)
      client = null
      flushAcks()
    },
    pause() {
      if (paused) return
      paused = true
      void link.stop(false)
    },
    resume() {
      if (!paused) return
      paused = false
      if (started) link.start()
    },
    notify(urgent = false) {
      // events go out at once; summaries and raw readings wait `linger` to share a batch
      pumpSoon(urgent ? 0 : cfg.linger)
    },
    reconfigure(patch) {
      const next = { ...cfg }
      for (const [k, v] of Object.entries(patch))
        if (v !== undefined) (next as Record<string, unknown>)[k] = v
      const hbChanged = next.heartbeat !== cfg.heartbeat
      cfg = next
      wire.deflate = cfg.deflate
      wire.level = cfg.deflateLevel
      if (started && hbChanged && hbTimer) {
        clearInterval(hbTimer)
        hbTimer = setInterval(sendHeartbeat, cfg.heartbeat)
        hbTimer.unref?.()
      }
      pumpSoon(0)
    },
    settings() {
      return { ...cfg }
    },
    stats(os = outbox.stats()): UplinkStats {
      const now = clock.now()
      let inFlightRecords = 0
      for (const f of inFlight.values()) inFlightRecords += f.seqs.length
      const rate = ackRate.perSecond()
      const breakers: Record<string, string> = {}
      cfg.urls.forEach((u, i) => {
        const st = link.breakers[i]!.state
        breakers[u] = ['closed', 'open', 'halfOpen', 'isolated'][st] ?? String(st)
      })
      return {
        connected: client !== null,
        endpoint: link.endpoint,
        ...c,
        inFlight: inFlight.size,
        inFlightRecords,
        backlogRecords: os.records,
        backlogBytes: os.bytes,
        oldestUnsentAgeMs: os.oldestTs === null ? 0 : Math.max(0, now - os.oldestTs),
        etaSec: os.records === 0 ? 0 : rate > 0 ? Math.ceil(os.records / rate) : null,
        ackRate: rate,
        failovers: link.failovers,
        connects: link.connects,
        lastError: link.lastError,
        breakers,
      }
    },
  }
  return uplink
}
