import { mkdirSync, statfsSync } from 'node:fs'
import { join } from 'node:path'
import { type Broker, startBroker } from '@fogline/broker'
import { type AppendItem, type Outbox, openSqliteOutbox } from '@fogline/outbox'
import { createEngine, type Engine, type EngineOutput, validatePipelines } from '@fogline/pipeline'
import { type Clock, FoglineError, type NodeConfig, resolveSecrets, systemClock } from '@fogline/protocol'
import { createUplink, type Uplink } from '@fogline/uplink'
import { DeadLetterStore } from './deadletters.js'
import type { DesiredAgent } from './desired/agent.js'
import { persistedDesiredPipelines } from './desired/agent.js'
import { type AttachDesiredOptions, attachDesiredAgent } from './desired/attach.js'
import { createLogger, type Logger } from './logger.js'
import { RateMeter } from './rate.js'

/** Key of the pipeline checkpoint in the outbox's state table. */
export const CHECKPOINT_KEY = 'pipeline.checkpoint'
/** Outputs kept in memory while the disk refuses writes; past this they are dropped and counted. */
const MAX_PENDING = 100_000

export interface NodeStats {
  nodeId: string
  readingsIn: number
  readingsPerSec: number
  oversize: number
  /** sensor clients refused for bad credentials */
  authFailures: number
  malformed: number
  deadLetters: number
  outputs: Record<string, number>
  backlogRecords: number
  backlogBytes: number
  oldestUnsentAgeMs: number | null
  sent: number
  acked: number
  resent: number
  connected: boolean
  dropped: Record<string, number>
  lastError: string | null
}

/** A running fog node. Lifecycle: startNode → (ingest, uplink) → stop. */
export interface FogNode {
  readonly nodeId: string
  /** the local broker sensors publish to */
  readonly brokerUrl: string
  readonly broker: Broker
  readonly engine: Engine
  readonly outbox: Outbox
  readonly uplink: Uplink
  readonly deadLetters: DeadLetterStore
  /** the desired-state agent, when the node is configured with desiredPublicKey */
  readonly desired: DesiredAgent | undefined
  stats(): NodeStats
  /** hot-reload a new pipeline set; throws FoglineError and keeps the running one when invalid */
  applyPipelines(raw: unknown, where?: { file?: string }): ReturnType<Engine['reload']>
  /** write a checkpoint now (also done every checkpoint.interval and on stop) */
  checkpoint(): Promise<void>
  stop(): Promise<void>
}

export interface StartNodeOptions {
  configFile?: string
  logger?: Logger
  clock?: Clock
  /** how often due windows are closed; default 100 ms */
  tickMs?: number
  /** desired-state agent options; false: do not attach one even when desiredPublicKey is set */
  desired?: AttachDesiredOptions | false
}

/**
 * Compose a fog node: outbox (durable) → pipeline engine (restored from its checkpoint) → uplink → local broker.
 * The broker starts last so no reading arrives before the state it belongs to is restored.
 * @example const node = await startNode(loadConfigFile(NodeConfig, 'configs/factory-line.yaml'))
 */
export async function startNode(config: NodeConfig, opts: StartNodeOptions = {}): Promise<FogNode> {
  const clock = opts.clock ?? systemClock
  const log = opts.logger ?? createLogger(config.log.level, `fogline-node:${config.nodeId}`)
  const where = opts.configFile ? { file: opts.configFile } : {}
  // refuse a bad pipeline before anything is opened or bound
  validatePipelines(config.pipelines, where)
  const users = config.broker.users
    ? Object.fromEntries(resolveSecrets(config.broker.users, 'broker.users', opts.configFile))
    : undefined
  mkdirSync(config.dataDir, { recursive: true })
  const outbox = await openSqliteOutbox({
    path: join(config.dataDir, 'outbox.db'),
    config: config.outbox,
    clock,
  })
  const deadLetters = new DeadLetterStore(join(config.dataDir, 'deadletters.db'))

  let lastError: string | null = null
  if (outbox.quarantined) {
    const q = outbox.quarantined
    lastError = `${q.code}: the outbox file was unreadable (${q.reason}); it was moved to ${q.movedTo} and a fresh one opened`
    log.error({ ...q }, 'corrupt outbox quarantined; running with a fresh one')
  }
  let readingsIn = 0
  let oversize = 0
  let authFailures = 0
  const outputsByStream: Record<string, number> = {}
  const dropped: Record<string, number> = {}
  const rate = new RateMeter(clock)

  // One writer: outputs collect in `pending` while the previous append commits, and go in the next append
  // as one transaction with the engine snapshot taken when the batch is cut. So a burst of window closes
  // costs one commit, a trickle of single summaries is not throttled to one commit per group-commit
  // interval, and a checkpoint can never commit ahead of outputs emitted before it.
  let pending: AppendItem[] = []
  let pendingHasSummary = false
  let flushScheduled = false
  let writing: Promise<void> | null = null
  let wantState = false
  let waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  const scheduleFlush = () => {
    if (flushScheduled) return
    flushScheduled = true
    setImmediate(flush)
  }
  const onOutputs = (outs: EngineOutput[]) => {
    for (const o of outs) {
      outputsByStream[o.stream] = (outputsByStream[o.stream] ?? 0) + 1
      if (pending.length >= MAX_PENDING) {
        dropped['disk-full'] = (dropped['disk-full'] ?? 0) + 1
        continue
      }
      pending.push({ stream: o.stream, ts: o.ts, priority: o.priority, body: o.body })
      if (o.stream !== 'raw') pendingHasSummary = true
    }
    scheduleFlush()
  }

  let engine: Engine
  const flush = () => {
    flushScheduled = false
    if (writing || (pending.length === 0 && !wantState)) return
    const items = pending
    // a window closed: save the engine state in the same transaction as its summary, so a crash can
    // neither lose the summary nor emit it twice after restore
    const withState = pendingHasSummary || wantState
    const state = withState ? { [CHECKPOINT_KEY]: engine.snapshot() } : undefined
    const done = waiters
    pending = []
    pendingHasSummary = false
    wantState = false
    waiters = []
    const urgent = items.some((it) => it.priority === 0)
    writing = outbox.append(items, state ? { state } : undefined).then(
      () => {
        writing = null
        if (lastError?.startsWith('FOG_DISK_FULL')) lastError = null
        for (const w of done) w.resolve()
        uplink.notify?.(urgent)
        if (pending.length > 0 || wantState) flush()
      },
      (err: unknown) => {
        // keep the outputs and retry: a full disk must not lose what was computed
        writing = null
        lastError = err instanceof FoglineError ? err.toUserString() : String(err)
        log.error({ err, records: items.length }, 'outbox append failed; will retry')
        const all = items.concat(pending)
        if (all.length > MAX_PENDING)
          dropped['disk-full'] = (dropped['disk-full'] ?? 0) + (all.length - MAX_PENDING)
        pending = all.slice(0, MAX_PENDING)
        pendingHasSummary = pendingHasSummary || withState
        for (const w of done) w.reject(err)
        setTimeout(scheduleFlush, 1000).unref()
      },
    )
  }

  // a node that applied a signed desired document runs those pipelines after a restart, not the file's
  let startPipelines: unknown = config.pipelines
  if (config.desiredPublicKey && opts.desired !== false) {
    const persisted = persistedDesiredPipelines((k) => outbox.getState(k))
    if (persisted !== undefined) {
      try {
        validatePipelines(persisted)
        startPipelines = persisted
        log.info('starting with the pipelines of the last applied desired state')
      } catch (err) {
        lastError = `applied desired pipelines no longer valid: ${(err as Error).message}`
        log.warn({ err }, 'persisted desired pipelines are invalid; starting with the config file')
      }
    }
  }
  engine = createEngine(
    startPipelines,
    {
      clock,
      emit: onOutputs,
      deadLetter: (d) => deadLetters.add(d),
    },
    where,
  )
  const saved = outbox.getState(CHECKPOINT_KEY)
  if (saved !== undefined) {
    try {
      engine.restore(saved)
      log.info('pipeline state restored from checkpoint')
    } catch (err) {
      lastError = `checkpoint not restored: ${(err as Error).message}`
      log.warn({ err }, 'checkpoint could not be restored; windows start empty')
    }
  }

  const heartbeat = () => {
    const s = stats()
    let diskFreeBytes: number | null = null
    try {
      const fs = statfsSync(config.dataDir)
      diskFreeBytes = fs.bavail * fs.bsize
    } catch {}
    const u = uplink.stats()
    return {
      ts: clock.now(),
      online: true,
      group: config.group,
      readingsIn: s.readingsIn,
      readingsPerSec: s.readingsPerSec,
      backlogRecords: u.backlogRecords,
      backlogBytes: u.backlogBytes,
      oldestUnsentAgeMs: u.oldestUnsentAgeMs,
      etaSec: u.etaSec,
      dropped: s.dropped,
      configVersion: configVersion(),
      diskFreeBytes,
      lastError,
      sent: u.sent,
      acked: u.acked,
      resent: u.resent,
      rejected: u.rejected,
      failovers: u.failovers,
      endpoint: u.endpoint,
      malformed: s.malformed,
      oversize: s.oversize,
      authFailures: s.authFailures,
      deadLetters: s.deadLetters,
      outputs: s.outputs,
    }
  }
  let configVersion: () => number | null = () => null

  const uplink: Uplink = createUplink({
    nodeId: config.nodeId,
    group: config.group,
    outbox,
    config: config.uplink,
    clock,
    logger: log,
    heartbeat,
    onDown: (topic, payload) => onDown(topic, payload),
  })
  let onDown: (topic: string, payload: Buffer) => void = () => {}

  const broker = await startBroker({
    host: config.broker.host,
    port: config.broker.port,
    maxPayload: config.broker.maxPayload,
    ...(users ? { users } : {}),
    onAuthFailure(clientId, username) {
      authFailures++
      log.warn(
        { code: 'FOG_AUTH_FAILED', clientId, username: username ?? null },
        'a sensor client was refused: bad user name or password',
      )
    },
    onMessage(topic, payload) {
      readingsIn++
      rate.add(1)
      engine.ingest(topic, payload)
    },
    onOversize(topic, size) {
      oversize++
      deadLetters.add({
        ts: clock.now(),
        topic,
        pipelineId: '',
        code: 'FOG_PAYLOAD_TOO_LARGE',
        reason: `payload of ${size} bytes is over broker.maxPayload (${config.broker.maxPayload})`,
        payload: '',
      })
    },
  })

  const tickTimer = setInterval(() => engine.tick(clock.now()), opts.tickMs ?? 100)
  const checkpointTimer = setInterval(() => checkpoint().catch(() => {}), config.checkpoint.interval)
  tickTimer.unref()
  checkpointTimer.unref()

  /** commit the engine state now, after every output emitted before this call */
  function checkpoint(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      waiters.push({ resolve, reject })
      wantState = true
      flush()
    }).catch((err: unknown) => {
      log.error({ err }, 'checkpoint failed')
      throw err
    })
  }

  function stats(): NodeStats {
    const u = uplink.stats()
    const c = engine.counters()
    let malformed = 0
    for (const p of Object.values(c)) malformed += p.malformed
    const ob = outbox.stats()
    return {
      nodeId: config.nodeId,
      readingsIn,
      readingsPerSec: rate.perSecond(),
      oversize,
      authFailures,
      malformed,
      deadLetters: deadLetters.total,
      outputs: { ...outputsByStream },
      backlogRecords: u.backlogRecords,
      backlogBytes: u.backlogBytes,
      oldestUnsentAgeMs: u.oldestUnsentAgeMs,
      sent: u.sent,
      acked: u.acked,
      resent: u.resent,
      connected: u.connected,
      dropped: { ...ob.dropped, ...dropped },
      // while the cloud is unreachable, why (e.g. FOG_AUTH_FAILED for a refused login) is the news
      lastError: lastError ?? (u.connected ? null : u.lastError),
    }
  }

  let stopping: Promise<void> | undefined
  const node: FogNode = {
    nodeId: config.nodeId,
    brokerUrl: broker.url,
    broker,
    engine,
    outbox,
    uplink,
    deadLetters,
    desired: undefined as DesiredAgent | undefined,
    stats,
    applyPipelines(raw, where) {
      const r = engine.reload(raw, where)
      log.info(r, 'pipelines reloaded')
      checkpoint().catch(() => {})
      return r
    },
    checkpoint,
    stop() {
      stopping ??= (async () => {
        node.desired?.close()
        clearInterval(tickTimer)
        clearInterval(checkpointTimer)
        await broker.close()
        // open windows are not flushed on stop: they are checkpointed and resume on the next start
        await checkpoint().catch(() => {})
        await writing
        if (pending.length > 0)
          log.error(
            { records: pending.length, lastError },
            'outputs not written at stop (outbox refused writes)',
          )
        await uplink.stop()
        engine.close()
        deadLetters.close()
        await outbox.close()
      })()
      return stopping
    },
  }
  // wiring points for the desired-state agent (set by ./desired when present)
  node_hooks.set(node, {
    setOnDown: (fn) => {
      onDown = fn
    },
    setConfigVersion: (fn) => {
      configVersion = fn
    },
  })
  if (config.desiredPublicKey && opts.desired !== false) {
    const agent = attachDesiredAgent(node, config, {
      clock,
      logger: log,
      pipelines: startPipelines,
      ...(opts.desired ?? {}),
    })
    ;(node as { desired: DesiredAgent | undefined }).desired = agent
  }
  // last: the desired agent is listening before the retained desired document can arrive
  uplink.start()
  return node
}

interface NodeHooks {
  setOnDown(fn: (topic: string, payload: Buffer) => void): void
  setConfigVersion(fn: () => number | null): void
}
const node_hooks = new WeakMap<FogNode, NodeHooks>()
export function nodeHooks(node: FogNode): NodeHooks {
  const h = node_hooks.get(node)
  if (!h) throw new FoglineError('FOG_INTERNAL', 'not a node started by startNode')
  return h
}
