import {
  type Ack,
  type Batch,
  type Clock,
  DATA_STREAMS,
  type DataStream,
  decodeBatch,
  decodeMessage,
  downTopic,
  encodeAck,
  isFoglineError,
  parseUpTopic,
  toRanges,
} from '@fogline/protocol'
import type { IPublishPacket, MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import type { CloudBus } from './bus.js'
import type { Fleet } from './fleet.js'
import type { CloudMetrics } from './metrics.js'
import type { HeartbeatBody, Store } from './store/types.js'

export interface IngestDeps {
  store: Store
  bus: CloudBus
  fleet: Fleet
  clock: Clock
  logger: Logger
  metrics: CloudMetrics
}

const isData = (s: string): s is DataStream => (DATA_STREAMS as readonly string[]).includes(s)

/**
 * Handle one up message. Data batches: decode → one store transaction → ack on down/ack (only after the
 * commit). Bad messages are dead-lettered and acked as rejected (when their batchId is readable) so the
 * node stops resending them; a store failure sends no ack, so the node resends later.
 */
export async function handleUp(
  deps: IngestDeps,
  client: MqttClient,
  topic: string,
  payload: Buffer,
): Promise<void> {
  const { store, clock, logger, metrics } = deps
  const at = clock.now()
  const t0 = performance.now() // latency on the monotonic clock, not the injected one
  const t = parseUpTopic(topic)
  if (!t) {
    await deadLetter(deps, {
      nodeId: null,
      stream: null,
      topic,
      code: 'FOG_TOPIC_INVALID',
      reason: 'not a fogline/v1/{nodeId}/up/{stream} topic',
      payload,
      at,
    })
    return
  }
  const { nodeId, stream } = t
  if (!isData(stream)) {
    let body: unknown
    try {
      body = decodeMessage(payload, { topic })
    } catch (err) {
      const code = isFoglineError(err) ? err.code : 'FOG_CODEC_MALFORMED'
      await deadLetter(deps, { nodeId, stream, topic, code, reason: (err as Error).message, payload, at })
      return
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      await deadLetter(deps, {
        nodeId,
        stream,
        topic,
        code: 'FOG_CODEC_MALFORMED',
        reason: `${stream} body must be a map`,
        payload,
        at,
      })
      return
    }
    if (stream === 'heartbeat') await store.recordHeartbeat(nodeId, body as HeartbeatBody, at)
    else if (isBatchShape(body)) return handleReportedBatch(deps, client, topic, payload, nodeId)
    else {
      await store.recordReported(nodeId, body as Record<string, unknown>, at)
      deps.bus.emit('reported', nodeId, body as Record<string, unknown>)
    }
    await deps.fleet.touched(nodeId)
    return
  }

  let batch: Batch
  try {
    batch = decodeBatch(payload, { topic })
    if (batch.nodeId !== nodeId || batch.stream !== stream)
      throw Object.assign(new Error(`batch says ${batch.nodeId}/${batch.stream} but came on ${topic}`), {
        code: 'FOG_BATCH_INVALID',
      })
  } catch (err) {
    const code = (err as { code?: string }).code?.startsWith('FOG_')
      ? (err as { code: string }).code
      : 'FOG_BATCH_INVALID'
    const reason = (err as Error).message
    await deadLetter(deps, { nodeId, stream, topic, code, reason, payload, at })
    metrics.batches.inc({ stream, result: 'rejected' })
    const batchId = readBatchId(payload)
    // without a batchId the node cannot match an ack; it will resend and be dead-lettered again (bounded by its retries)
    if (batchId !== null)
      publishAck(client, nodeId, { stream, batchId, ranges: [], rejected: { code, message: reason } }, logger)
    return
  }

  let res: Awaited<ReturnType<Store['insertBatch']>>
  try {
    res = await store.insertBatch(batch as Batch & { stream: DataStream }, at)
  } catch (err) {
    metrics.batches.inc({ stream, result: 'store_failed' })
    logger.error(
      { err: (err as Error).message, nodeId, stream, batchId: batch.batchId },
      'store failed; no ack, the node will resend',
    )
    return
  }
  const ack: Ack = { stream, batchId: batch.batchId, ranges: toRanges(res.seqs) }
  if (res.bad.length > 0 && res.bad.length === res.seqs.length)
    ack.rejected = { code: 'FOG_BATCH_INVALID', message: res.bad[0]!.reason }
  publishAck(client, nodeId, ack, logger)
  metrics.commitSeconds.observe((performance.now() - t0) / 1000)
  metrics.batches.inc({ stream, result: ack.rejected ? 'rejected' : 'stored' })
  if (res.inserted) metrics.records.inc({ stream, result: 'inserted' }, res.inserted)
  if (res.duplicates) metrics.records.inc({ stream, result: 'duplicate' }, res.duplicates)
  if (res.bad.length) {
    metrics.records.inc({ stream, result: 'dead_lettered' }, res.bad.length)
    for (const b of res.bad)
      deps.bus.emit('deadletter', {
        receivedAt: at,
        nodeId,
        stream,
        seq: b.seq,
        topic,
        code: 'FOG_BATCH_INVALID',
        reason: b.reason,
        bytes: 0,
      })
  }
  for (const r of res.summaries) deps.bus.emit('summary', r)
  for (const r of res.events) deps.bus.emit('event', r)
}

const isBatchShape = (v: object): boolean =>
  'batchId' in v && 'records' in v && Array.isArray((v as { records: unknown }).records)

/**
 * Reported state that came through the node's outbox (a Batch on up/reported): stored in seq order, the
 * newest wins, then acked like any batch so the outbox can drop it.
 */
async function handleReportedBatch(
  deps: IngestDeps,
  client: MqttClient,
  topic: string,
  payload: Buffer,
  nodeId: string,
): Promise<void> {
  const at = deps.clock.now()
  let batch: Batch
  try {
    batch = decodeBatch(payload, { topic })
    if (batch.nodeId !== nodeId || batch.stream !== 'reported')
      throw new Error(`batch says ${batch.nodeId}/${batch.stream} but came on ${topic}`)
  } catch (err) {
    const code = isFoglineError(err) ? err.code : 'FOG_BATCH_INVALID'
    await deadLetter(deps, {
      nodeId,
      stream: 'reported',
      topic,
      code,
      reason: (err as Error).message,
      payload,
      at,
    })
    const batchId = readBatchId(payload)
    if (batchId !== null)
      publishAck(
        client,
        nodeId,
        { stream: 'reported', batchId, ranges: [], rejected: { code, message: (err as Error).message } },
        deps.logger,
      )
    return
  }
  try {
    for (const r of batch.records) {
      const body = r.body as Record<string, unknown>
      if (await deps.store.recordReported(nodeId, body, at, r.seq)) deps.bus.emit('reported', nodeId, body)
    }
  } catch (err) {
    deps.logger.error(
      { err: (err as Error).message, nodeId, batchId: batch.batchId },
      'reported state not stored; no ack',
    )
    return
  }
  publishAck(
    client,
    nodeId,
    { stream: 'reported', batchId: batch.batchId, ranges: toRanges(batch.records.map((r) => r.seq)) },
    deps.logger,
  )
  await deps.fleet.touched(nodeId)
}

function publishAck(client: MqttClient, nodeId: string, ack: Ack, logger: Logger): void {
  client.publish(downTopic(nodeId, 'ack'), encodeAck(ack), { qos: 1 }, (err) => {
    if (err)
      logger.warn(
        { err: err.message, nodeId, batchId: ack.batchId },
        'ack not published; the node will resend',
      )
  })
}

function readBatchId(payload: Buffer): string | null {
  try {
    const v = decodeMessage(payload) as { batchId?: unknown } | null
    return v && typeof v.batchId === 'string' ? v.batchId : null
  } catch {
    return null
  }
}

async function deadLetter(
  deps: IngestDeps,
  d: {
    nodeId: string | null
    stream: string | null
    topic: string
    code: string
    reason: string
    payload: Buffer
    at: number
  },
): Promise<void> {
  deps.logger.warn({ topic: d.topic, code: d.code, reason: d.reason }, 'up message dead-lettered')
  try {
    await deps.store.addDeadLetter({
      receivedAt: d.at,
      nodeId: d.nodeId,
      stream: d.stream,
      topic: d.topic,
      code: d.code,
      reason: d.reason,
      payload: d.payload,
    })
  } catch (err) {
    deps.logger.error({ err: (err as Error).message, topic: d.topic }, 'dead letter not stored')
  }
  deps.metrics.records.inc({ stream: d.stream ?? 'unknown', result: 'dead_lettered' })
  deps.bus.emit('deadletter', {
    receivedAt: d.at,
    nodeId: d.nodeId,
    stream: d.stream,
    seq: null,
    topic: d.topic,
    code: d.code,
    reason: d.reason,
    bytes: d.payload.length,
  })
}

/**
 * Wire the handler into an mqtt.js client: messages are handled one at a time and the PUBACK to the broker
 * goes after the commit (mqtt.js reads the next message only then, which is also the backpressure).
 */
export function attachIngest(deps: IngestDeps, client: MqttClient): { idle(): Promise<void> } {
  let current: Promise<void> = Promise.resolve()
  client.handleMessage = (packet: IPublishPacket, done) => {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
    current = handleUp(deps, client, packet.topic, payload).then(
      () => done(),
      (err) => {
        // never crash the aggregator on one message; the node resends what was not acked
        deps.logger.error({ err: (err as Error).message, topic: packet.topic }, 'up message not handled')
        done()
      },
    )
  }
  return { idle: () => current }
}
