import type { Outbox } from '@fogline/outbox'
import type { Engine } from '@fogline/pipeline'
import type { Clock, NodeConfig } from '@fogline/protocol'
import type { Uplink } from '@fogline/uplink'
import type { DeadLetterStore } from './deadletters.js'
import type { DesiredAgent } from './desired/agent.js'
import type { Ingest } from './ingest.js'
import type { DurableIngest } from './journal/ingest.js'
import type { Logger } from './logger.js'
import type { NodeOps } from './ops/attach.js'
import type { NodeStatus } from './status.js'
import type { FogNode } from './types.js'
import type { Writer } from './writer.js'

export interface NodeParts {
  outbox: Outbox
  deadLetters: DeadLetterStore
  writer: Writer
  engine: Engine
  uplink: Uplink
  desired: DesiredAgent | undefined
  ingest: Ingest
  status: NodeStatus
  applyPipelines: FogNode['applyPipelines']
  /** the ingest journal, when `ingest.journal` is on */
  durable?: DurableIngest | undefined
  ops: NodeOps
}

/**
 * The running node from its parts: the engine's tick and the periodic checkpoint on the injected clock,
 * and one stop that takes the parts down in order (sensors first, the outbox last).
 */
export function runNode(
  config: Pick<NodeConfig, 'nodeId' | 'checkpoint'>,
  run: { clock: Clock; log: Logger /** how often due windows are closed */; tickMs: number },
  p: NodeParts,
): FogNode {
  const { clock, log } = run
  const { writer, engine, outbox, uplink } = p
  // a committed checkpoint holds every journaled reading up to the position read before it was asked for
  const checkpoint = () => {
    const pos = p.durable?.position() ?? 0
    return writer.checkpoint().then(() => p.durable?.committed(pos))
  }
  const tickTimer = clock.setInterval(() => engine.tick(clock.now()), run.tickMs)
  const checkpointTimer = clock.setInterval(() => {
    const t0 = performance.now()
    checkpoint().then(
      () => p.ops.observeCheckpoint((performance.now() - t0) / 1000),
      () => {},
    )
  }, config.checkpoint.interval)
  let stopping: Promise<void> | undefined
  const stop = async () => {
    await p.ops.close()
    p.desired?.close()
    clock.clearInterval(tickTimer)
    clock.clearInterval(checkpointTimer)
    await p.ingest.broker.close()
    // open windows are not flushed on stop: they are checkpointed and resume on the next start
    await checkpoint().catch(() => {})
    await writer.close()
    p.durable?.close()
    await p.uplink.stop()
    engine.close()
    p.deadLetters.close()
    await p.outbox.close()
  }
  return {
    nodeId: config.nodeId,
    brokerUrl: p.ingest.broker.url,
    broker: p.ingest.broker,
    engine,
    outbox: p.outbox,
    uplink: p.uplink,
    deadLetters: p.deadLetters,
    desired: p.desired,
    stats() {
      const ob = outbox.stats()
      return { ...p.status.stats(uplink.stats(ob), ob), ops: p.ops.stats() }
    },
    ops: p.ops,
    applyPipelines: p.applyPipelines,
    checkpoint: () =>
      checkpoint().catch((err: unknown) => {
        log.error({ err }, 'checkpoint failed')
        throw err
      }),
    stop() {
      stopping ??= stop()
      return stopping
    },
  }
}
