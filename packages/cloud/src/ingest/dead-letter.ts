import {
  type Ack,
  type Batch,
  decodeBatch,
  decodeMessage,
  downTopic,
  encodeAck,
  FoglineError,
  isFoglineError,
} from '@fogline/protocol'
import type { Logger } from 'pino'
import type { AckClient, IngestDeps } from './deps.js'

/** Publish an application ack on fogline/v1/{nodeId}/down/ack; a lost ack only means a resend. */
export function publishAck(client: AckClient, nodeId: string, ack: Ack, logger: Logger): void {
  client.publish(downTopic(nodeId, 'ack'), encodeAck(ack), { qos: 1 }, (err) => {
    if (err)
      logger.warn(
        { err: err.message, nodeId, batchId: ack.batchId },
        'ack not published; the node will resend',
      )
  })
}

/** The batchId of a payload that failed validation, when it can still be read (so it can be acked as rejected). */
export function readBatchId(payload: Buffer): string | null {
  try {
    const v = decodeMessage(payload) as { batchId?: unknown } | null
    return v && typeof v.batchId === 'string' ? v.batchId : null
  } catch {
    return null
  }
}

export interface DeadLetterInfo {
  nodeId: string | null
  stream: string | null
  topic: string
  code: string
  reason: string
  payload: Buffer
  at: number
}

/** Keep a refused up message (store, metric, live stream); never throws. */
export async function deadLetter(deps: IngestDeps, d: DeadLetterInfo): Promise<void> {
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
 * Decode a batch and check it is the node's own on this stream; otherwise dead-letter it and ack it as
 * rejected (when its batchId is readable) so the node stops resending it, and return null.
 */
export async function decodeOwnBatch(
  deps: IngestDeps,
  client: AckClient,
  m: { topic: string; payload: Buffer; nodeId: string; stream: string; at: number },
): Promise<Batch | null> {
  const { topic, payload, nodeId, stream, at } = m
  try {
    const batch = decodeBatch(payload, { topic })
    if (batch.nodeId !== nodeId || batch.stream !== stream)
      throw new FoglineError(
        'FOG_BATCH_INVALID',
        `batch says ${batch.nodeId}/${batch.stream} but came on ${topic}`,
        { topic },
      )
    return batch
  } catch (err) {
    const code = isFoglineError(err) ? err.code : 'FOG_BATCH_INVALID'
    const reason = (err as Error).message
    await deadLetter(deps, { nodeId, stream, topic, code, reason, payload, at })
    const batchId = readBatchId(payload)
    // without a batchId the node cannot match an ack; it will resend and be dead-lettered again (bounded by its retries)
    if (batchId !== null)
      publishAck(
        client,
        nodeId,
        { stream: stream as Ack['stream'], batchId, ranges: [], rejected: { code, message: reason } },
        deps.logger,
      )
    return null
  }
}
