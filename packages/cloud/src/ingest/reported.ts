import { toRanges } from '@fogline/protocol'
import { decodeOwnBatch, publishAck } from './dead-letter.js'
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
  const batch = await decodeOwnBatch(deps, client, { topic, payload, nodeId, stream: 'reported', at })
  if (!batch) return
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
