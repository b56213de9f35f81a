import { type Batch, decodeBatch, FoglineError, isFoglineError, toRanges } from '@fogline/protocol'
import { deadLetter, publishAck, readBatchId } from './dead-letter.js'
import type { AckClient, IngestDeps } from './deps.js'

/**
 * Reported state that came through the node's outbox (a Batch on up/reported): stored in seq order, the
 * newest wins, then acked like any batch so the outbox can drop it.
 */
export async function handleReportedBatch(
  deps: IngestDeps,
  client: AckClient,
  topic: string,
  payload: Buffer,
  nodeId: string,
): Promise<void> {
  const at = deps.clock.now()
  let batch: Batch
  try {
    batch = decodeBatch(payload, { topic })
    if (batch.nodeId !== nodeId || batch.stream !== 'reported')
      throw new FoglineError(
        'FOG_BATCH_INVALID',
        `batch says ${batch.nodeId}/${batch.stream} but came on ${topic}`,
        { topic },
      )
  } catch (err) {
    const code = isFoglineError(err) ? err.code : 'FOG_BATCH_INVALID'
    const reason = (err as Error).message
    await deadLetter(deps, { nodeId, stream: 'reported', topic, code, reason, payload, at })
    const batchId = readBatchId(payload)
    if (batchId !== null)
      publishAck(
        client,
        nodeId,
        { stream: 'reported', batchId, ranges: [], rejected: { code, message: reason } },
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
