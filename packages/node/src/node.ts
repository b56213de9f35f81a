import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Outbox, openSqliteOutbox, type QuarantineInfo } from '@fogline/outbox'
import { type Engine, validatePipelines } from '@fogline/pipeline'
import {
  type Clock,
  type DesiredUplink,
  type ErrorData,
  type NodeConfig,
  systemClock,
} from '@fogline/protocol'
import { createUplink, type Uplink } from '@fogline/uplink'
import { DeadLetterStore } from './deadletters.js'
import { type AttachDesiredOptions, attachDesiredAgent } from './desired/attach.js'
import { startEngine } from './engine.js'
import { startIngest } from './ingest.js'
import { deadLetterOnce, openDurableIngest, replayJournal } from './journal/ingest.js'
import { runNode } from './lifecycle.js'
import type { Logger } from './logger.js'
import { createNodeLogs, NodeOps } from './ops/index.js'
import { createStatus } from './status.js'
import type { FogNode, StartNodeOptions } from './types.js'
import { Writer } from './writer.js'

export type { FogNode, NodeStats, StartNodeOptions } from './types.js'

/**
 * Compose a fog node; it only wires: outbox (durable) → one writer → pipeline engine (restored from its
 * checkpoint) → uplink (drains the outbox on its commits) → desired-state agent → local broker. The broker
 * starts last so no reading arrives before the state it belongs to is restored.
 * @example const node = await startNode(loadConfigFile(NodeConfig, 'configs/factory-line.yaml'))
 */
export async function startNode(config: NodeConfig, opts: StartNodeOptions = {}): Promise<FogNode> {
  const clock = opts.clock ?? systemClock
  const logs = nodeLogs(config, opts.logger)
  const log = logs.root
  const where = opts.configFile ? { file: opts.configFile } : {}
  // refuse a bad pipeline before anything is opened or bound
  validatePipelines(config.pipelines, where)
  mkdirSync(config.dataDir, { recursive: true })
  const outbox = await openSqliteOutbox({
    path: join(config.dataDir, 'outbox.db'),
    config: config.outbox,
    clock,
  })
  const deadLetters = new DeadLetterStore(
    join(config.dataDir, 'deadletters.db'),
    1000,
    clock,
    config.outbox.synchronous,
  )
  const desiredOn = Boolean(config.desiredKeys?.length) && opts.desired !== false
  // supervision first: the engine reports a failing pipeline into it
  const ops = new NodeOps({ config, clock, log: logs.module('ops'), onFatal: opts.onFatal })
  // the writer reads the engine's snapshot and the engine emits into the writer: the arrow closes the loop
  const writerParts = { config, outbox, deadLetters, clock, log }
  const { durable, writer, emit, engineClock } = journaledWriter(writerParts, () => engine)
  const started = startEngine({
    configPipelines: config.pipelines,
    outbox,
    desired: desiredOn,
    host: { clock: engineClock, emit, deadLetter: deadLetterOnce(deadLetters, durable), ...ops.engineHooks },
    where,
    log,
  })
  const engine = started.engine
  replayJournal(durable, log)
  const applyPipelines: FogNode['applyPipelines'] = (raw, w) => {
    const r = engine.reload(raw, w)
    log.info(r, 'pipelines reloaded')
    writer.checkpoint().catch(() => {})
    return r
  }
  // down messages and heartbeats are only asked for after uplink.start(), at the end: by then all exists
  const uplink = createUplink({
    nodeId: config.nodeId,
    group: config.group,
    outbox,
    config: config.uplink,
    configFile: opts.configFile,
    clock,
    logger: logs.module('uplink'),
    heartbeat: (u, ob) => ({ ...status.heartbeat(u, ob), ...ops.heartbeat() }),
    ...ops.uplinkHooks,
  })
  const dOpts = {
    clock,
    logger: logs.module('desired'),
    pipelines: started.pipelines,
    ...(opts.desired || {}),
  }
  const desired = desiredOn ? startDesired(config, outbox, engine, applyPipelines, uplink, dOpts) : undefined
  const sensors = { configFile: opts.configFile, engine, deadLetters, clock, log, durable }
  const ingest = await startIngest({ config, ...sensors })
  await ops.start({ engine, outbox, deadLetters, writer, uplink, desired, journal: durable })
  const status = createStatus({
    config,
    clock,
    ingest: ingest.stats,
    engine,
    deadLetters,
    writer,
    startupError: startupError(outbox.quarantined, started.error, log),
    configVersion: () => desired?.appliedVersion() ?? null,
  })

  const parts = { outbox, deadLetters, writer, engine, uplink, desired, ingest, status, applyPipelines, ops }
  const node = runNode(config, { clock, log, tickMs: opts.tickMs ?? 100 }, { ...parts, durable })
  // last: the desired agent is listening before the retained desired document can arrive
  uplink.start()
  return node
}

/**
 * The one writer, and with `ingest.journal` on the ingest journal: QoS 1 readings go through it, and what the
 * writer commits carries its positions (the snapshot's, raw outputs' and events'), see docs/delivery.md; bad readings
 * are in the dead-letter store before a checkpoint moves past them.
 */
function journaledWriter(
  p: { config: NodeConfig; outbox: Outbox; deadLetters: DeadLetterStore; clock: Clock; log: Logger },
  engine: () => Engine,
) {
  const { config, outbox, deadLetters, clock, log } = p
  const getState = (k: string) => outbox.getState(k)
  const durable = openDurableIngest({
    config,
    clock,
    getState,
    ingest: (t, p, now) => engine().ingest(t, p, now),
  })
  // a checkpoint moves the replay start past readings the dead-letter store may not have flushed yet: flush
  // it first, or a crash right after the checkpoint loses bad readings that were PUBACKed
  const snapshot = durable
    ? () => {
        deadLetters.flush()
        return durable.stamp(engine().snapshot())
      }
    : () => engine().snapshot()
  const positions = durable && {
    rawState: () => durable.rawState(),
    events: { replayable: () => durable.replayable(), state: () => durable.eventsState() },
  }
  const writer = new Writer({ outbox, snapshot, ...positions, clock, log })
  const emit = durable ? durable.emitter(writer.write) : writer.write
  return { durable, writer, emit, engineClock: durable?.clock ?? clock }
}

/** How the node did not start as it was left, as data for its stats and heartbeat. */
function startupError(
  q: QuarantineInfo | null,
  engineError: ErrorData | null,
  log: { error(o: object, m: string): void },
): ErrorData | null {
  if (!q) return engineError
  log.error({ ...q }, 'corrupt outbox quarantined; running with a fresh one')
  return {
    code: q.code,
    message: `the outbox file was unreadable (${q.reason}); it was moved aside and a fresh one opened`,
    where: { file: q.movedTo },
  }
}

/** The node's loggers: the one passed in (tests), or JSON/pretty with a level per module (log.modules). */
function nodeLogs(
  config: NodeConfig,
  given: Logger | undefined,
): { root: Logger; module(name: string): Logger } {
  if (given) return { root: given, module: (name) => given.child({ module: name }) }
  const { level, modules, format } = config.log
  return createNodeLogs({ name: `fogline-node:${config.nodeId}`, level, modules, format })
}

/** The desired-state agent on the node's parts; the uplink applies its settings and says if it is connected. */
function startDesired(
  config: NodeConfig,
  outbox: Outbox,
  engine: Engine,
  applyPipelines: FogNode['applyPipelines'],
  uplink: Uplink,
  opts: AttachDesiredOptions,
) {
  const parts = {
    config,
    outbox,
    engine,
    applyPipelines,
    applyUplink: (u: DesiredUplink) => uplink.reconfigure(u),
    connected: () => uplink.stats().connected,
  }
  return attachDesiredAgent(parts, opts)
}
