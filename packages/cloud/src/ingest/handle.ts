import {
  type Ack,
  type Batch,
  DATA_STREAMS,
  type DataStream,
  decodeMessage,
  isFoglineError,
  parseUpTopic,
  toRanges,
} from '@fogline/protocol'
import type { HeartbeatBody, InsertResult } from '../store/index.js'
import { deadLetter, decodeOwnBatch, publishAck } from './dead-letter.js'
import type { AckClient, IngestDeps } from './deps.js'
import { handleReportedBatch } from './reported.js'

const isData = (s: string): s is DataStream => (DATA_STREAMS as readonly string[]).includes(s)

const isBatchShape = (v: object): boolean =>
  'batchId' in v && 'records' in v && Array.isArray((v as { records: unknown }).records)

/**
 * Handle one up message. Data batches: decode → one store transaction → ack on down/ack (only after the
 * commit). Bad messages are dead-lettered and acked as rejected (when their batchId is readable) so the
 * node stops resending them; a store failure sends no ack, so the node resends later.
 */
export async function handleUp(
  deps: IngestDeps,
  client: AckClient,
  topic: string,
  payload: Buffer,
): Promise<void> {
  const t = parseUpTopic(topic)
  if (!t) {
    await deadLetter(deps, {
      nodeId: null,
      stream: null,
      topic,
      code: 'FOG_TOPIC_INVALID',
      reason: 'not a fogline/v1/{nodeId}/up/{stream} topic',
      payload,
      at: deps.clock.now(),
    })
    return
  }
  if (isData(t.stream)) return handleDataBatch(deps, client, topic, payload, t.nodeId, t.stream)
  return handleNodeMessage(deps, client, topic, payload, t.nodeId, t.stream)
}

/** heartbeat: one map per message; reported: a batch from the node's outbox, stored and acked. */
async function handleNodeMessage(
  deps: IngestDeps,
  client: AckClient,
  topic: string,
  payload: Buffer,
  nodeId: string,
  stream: string,
): Promise<void> {
  const at = deps.clock.now()
  let body: unknown
  try {
    body = decodeMessage(payload, { topic })
  } catch (err) {
    const code = isFoglineError(err) ? err.code : 'FOG_CODEC_MALFORMED'
    await deadLetter(deps, { nodeId, stream, topic, code, reason: (err as Error).message, payload, at })
    return
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    const reason = `${stream} body must be a map`
    await deadLetter(deps, { nodeId, stream, topic, code: 'FOG_CODEC_MALFORMED', reason, payload, at })
    return
  }
  if (stream === 'heartbeat') {
    // a late or duplicate heartbeat (older boot/seq) changes nothing, so there is nothing to announce
    if (!(await deps.store.recordHeartbeat(nodeId, body as HeartbeatBody, at))) return
  }
  // reported state has one route: batches from the node's outbox (durable, acked); a lone map is refused
  else if (isBatchShape(body)) return handleReportedBatch(deps, client, topic, payload, nodeId)
  else {
    const reason = 'reported state must come as a batch from the node outbox (reported stream)'
    await deadLetter(deps, { nodeId, stream, topic, code: 'FOG_BATCH_INVALID', reason, payload, at })
    return
  }
  await deps.fleet.touched(nodeId)
}

/** summary, event, raw: decode, store in one transaction, then ack. */
async function handleDataBatch(
  deps: IngestDeps,
  client: AckClient,
  topic: string,
  payload: Buffer,
  nodeId: string,
  stream: DataStream,
): Promise<void> {
  const { store, clock, logger, metrics } = deps
  const at = clock.now()
  const t0 = performance.now() // latency on the monotonic clock, not the injected one
  const batch = await decodeOwnBatch(deps, client, { topic, payload, nodeId, stream, at })
  if (!batch) {
    metrics.batches.inc({ stream, result: 'rejected' })
    return
  }

  let res: InsertResult
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
  announce(deps, res, { nodeId, stream, topic, at })
}

/** Count what a committed batch did and put its new rows and dead letters on the bus. */
function announce(
  deps: IngestDeps,
  res: InsertResult,
  m: { nodeId: string; stream: DataStream; topic: string; at: number },
): void {
  const { metrics, bus } = deps
  const stream = m.stream
  if (res.inserted) metrics.records.inc({ stream, result: 'inserted' }, res.inserted)
  if (res.duplicates) metrics.records.inc({ stream, result: 'duplicate' }, res.duplicates)
  if (res.bad.length) {
    metrics.records.inc({ stream, result: 'dead_lettered' }, res.bad.length)
    for (const b of res.bad)
      bus.emit('deadletter', {
        receivedAt: m.at,
        nodeId: m.nodeId,
        stream,
        seq: b.seq,
        topic: m.topic,
        code: 'FOG_BATCH_INVALID',
        reason: b.reason,
        bytes: 0,
      })
  }
  for (const r of res.summaries) bus.emit('summary', r)
  for (const r of res.events) bus.emit('event', r)
}
