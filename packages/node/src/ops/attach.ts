import type { Outbox } from '@fogline/outbox'
import type { Engine, EngineOutput } from '@fogline/pipeline'
import type { Clock, ErrorData, FogEvent, NodeConfig } from '@fogline/protocol'
import type { Logger } from 'pino'
import { diskFree } from '../disk.js'
import { type OpsServer, startOpsServer } from './http.js'
import { createScheduler, type JobSpec, type JobStatus } from './jobs.js'
import { createMaintenanceHold, type MaintenanceHold } from './maintenance.js'
import { createNodeMetrics, type JournalMetrics, type NodeMetrics } from './metrics.js'
import { createPredictor, type Prediction } from './predict.js'
import { createReadiness, type Readiness } from './readiness.js'
import { watchStalls } from './stall.js'
import { createSupervisor, type SupervisedPipeline, type SupervisorEvent } from './supervisor.js'
import { createUploadGate, timesyncTrust, type UploadGateState } from './windows.js'

/** What the ops part reads from the running node; each part is passed in, nothing is reached into. */
export interface OpsParts {
  engine: Pick<Engine, 'counters' | 'restartPipeline'>
  outbox: Pick<Outbox, 'stats' | 'getState' | 'putState' | 'append' | 'compact'>
  deadLetters: { prune(before: number): number }
  uplink: { stats(): { connected: boolean; oldestUnsentAgeMs: number | null } }
  /** the node's one writer: ops events go through it like the pipelines' outputs */
  writer: {
    lastError(): ErrorData | null
    stats(): { dropped: Record<string, number>; held: number }
    write(outs: EngineOutput[]): void
  }
  /** the desired-state agent (it gets down messages after the maintenance hold), when desired state is on */
  desired?: { handle(topic: string, payload: Buffer): Promise<void> } | undefined
  /** more scheduled jobs besides housekeeping */
  jobs?: JobSpec[]
  /** the ingest journal, when it is on (its metrics) */
  journal?: { stats(): JournalMetrics } | undefined
}

/** The ops part of the node's stats and heartbeat. */
export interface OpsStats {
  ready: Readiness
  pipelines: Record<string, SupervisedPipeline>
  jobs: JobStatus[]
  upload: UploadGateState
  /** a desired document waiting for the maintenance window */
  desiredPending: { version: number; pendingUntil: number } | null
  prediction: Prediction
  stalls: number
  /** the ops endpoint, null when ops.http is false */
  httpUrl: string | null
}

export interface NodeOpsOptions {
  config: NodeConfig
  clock: Clock
  log: Logger
  /** the node cannot go on (outbox unwritable and nowhere to hold results): the CLI exits non-zero */
  onFatal?: ((e: ErrorData) => void) | undefined
  /** node-cron triggers (real timers); false in tests on the fake clock */
  cronTriggers?: boolean
  /** where systemd-timesyncd marks a synchronized clock; tests point it elsewhere */
  timesyncMark?: string
}

type Severity = NonNullable<FogEvent['severity']>

/**
 * The node's operations: supervision (before the engine exists: the engine reports into it), then, once
 * the parts run, metrics, the /metrics /healthz /readyz endpoint, stall watch, schedules and prediction.
 * Lifecycle: new NodeOps → start(parts) → close.
 * @example const ops = new NodeOps({ config, clock, log }); createEngine(p, { ...host, onPipelineError: ops.onPipelineError })
 */
export class NodeOps {
  readonly supervisor: ReturnType<typeof createSupervisor>
  private parts: OpsParts | undefined
  private metrics: NodeMetrics | undefined
  private readonly upload: ReturnType<typeof createUploadGate>
  private readonly predictor: ReturnType<typeof createPredictor>
  private readonly readiness: ReturnType<typeof createReadiness>
  private stalls: ReturnType<typeof watchStalls> | undefined
  private scheduler: ReturnType<typeof createScheduler> | undefined
  private hold: MaintenanceHold | undefined
  private server: OpsServer | undefined
  private readonly timers: unknown[] = []

  constructor(private readonly o: NodeOpsOptions) {
    const { config, clock } = o
    this.supervisor = createSupervisor({
      clock,
      ...config.ops.supervisor,
      restart: (id) => this.parts?.engine.restartPipeline(id),
      report: (e) => this.onSupervisor(e),
    })
    this.upload = createUploadGate(clock, config.uplink.schedule, timesyncTrust(clock, o.timesyncMark))
    this.predictor = createPredictor({
      clock,
      capacityBytes: config.outbox.capacityBytes,
      capacityRecords: config.outbox.capacityRecords,
      warnAhead: config.ops.prediction.warnAhead,
      trendOver: config.ops.prediction.trendOver,
      onWarn: (p) => {
        const fullAt = new Date(p.fullAt).toISOString()
        o.log.warn({ code: 'FOG_OUTBOX_FULL_PREDICTED', fullAt, limit: p.limit }, 'outbox predicted full')
        this.event('outbox-full-predicted', p.fullAt, 'warning', {
          code: 'FOG_OUTBOX_FULL_PREDICTED',
          fullAt: p.fullAt,
          limit: p.limit,
          bytesPerSec: p.bytesPerSec,
        })
      },
    })
    this.readiness = createReadiness({
      clock,
      dataDir: config.dataDir,
      writeError: () => this.parts?.writer.lastError() ?? null,
      quarantined: () => this.supervisor.quarantined(),
    })
  }

  /** what the engine's host gets: a failing pipeline is reported to the supervisor */
  get engineHooks() {
    return { onPipelineError: this.onPipelineError }
  }

  /** what the uplink gets: the upload gate, and down messages through the maintenance hold */
  get uplinkHooks() {
    return { gate: this.uploadAllows, onDown: this.handleDown }
  }

  /** the engine's onPipelineError hook */
  readonly onPipelineError = (id: string, err: unknown): void => this.supervisor.failed(id, err)
  /** the uplink's gate: may records of `stream` go up now (upload windows)? */
  readonly uploadAllows = (stream: string): boolean => this.upload.allows(stream)

  async start(p: OpsParts): Promise<void> {
    const { config, clock, log } = this.o
    const cfg = config.ops
    this.parts = p
    const metrics = createNodeMetrics({
      ...partsSource(p),
      pipelineStates: () =>
        Object.fromEntries(Object.entries(this.supervisor.status()).map(([k, s]) => [k, s.state])),
      jobs: () => this.scheduler?.status() ?? [],
      predictedFullAt: () => this.predictor.current().fullAt,
    })
    this.metrics = metrics
    this.stalls = watchStalls({ clock, thresholdMs: cfg.stallThreshold, onStall: (ms) => this.onStall(ms) })
    this.scheduler = createScheduler({
      clock,
      jobs: [...housekeeping(config, clock, p), ...(p.jobs ?? [])],
      state: { get: (k) => p.outbox.getState(k), put: (k, v) => p.outbox.putState(k, v) },
      cronTriggers: this.o.cronTriggers ?? true,
      onRun: (s) => log[s.ok ? 'info' : 'warn']({ job: s.name, result: s.result, error: s.error }, 'job ran'),
    })
    const fatal = watchUnwritable({
      clock,
      log,
      readiness: this.readiness,
      writer: p.writer,
      after: cfg.exitAfterUnwritable,
      onFatal: this.o.onFatal,
    })
    this.hold = this.maintenanceHold(p)
    this.timers.push(
      clock.setInterval(() => this.sample(), cfg.prediction.sampleEvery),
      clock.setInterval(fatal, 1000),
    )
    for (const t of this.timers) (t as { unref?: () => void } | null)?.unref?.()
    if (cfg.http !== false) {
      const ready = () => this.readiness.check()
      this.server = await startOpsServer({ ...cfg.http, scrape: () => metrics.scrape(), ready })
      log.info({ url: this.server.url }, 'ops endpoint: /metrics /healthz /readyz')
    }
  }

  /** route the uplink's down messages here: desired state passes the maintenance hold */
  readonly handleDown = (topic: string, payload: Buffer): void => {
    if (this.hold) void this.hold.handle(topic, payload)
    else void this.parts?.desired?.handle(topic, payload)
  }

  /** what the heartbeat adds: the fleet view shows the predicted full time */
  heartbeat(): Record<string, unknown> {
    const pending = this.hold?.status().pending ?? null
    return {
      outboxFullAt: this.predictor.current().fullAt,
      quarantined: this.supervisor.quarantined(),
      upload: this.upload.state(),
      ...(pending ? { desiredPending: pending } : {}),
    }
  }

  private maintenanceHold(p: OpsParts): MaintenanceHold | undefined {
    const { config, clock, log } = this.o
    const agent = p.desired
    if (!agent || config.ops.maintenance.length === 0) return undefined
    return createMaintenanceHold({
      clock,
      windows: config.ops.maintenance,
      nodeId: config.nodeId,
      group: config.group,
      keys: config.desiredKeys,
      state: { get: (k) => p.outbox.getState(k), put: (k, v) => p.outbox.putState(k, v) },
      // the same durable route as the agent's own reports
      report: (body) => void p.outbox.append([{ stream: 'reported', ts: body.ts, body }]).catch(() => {}),
      deliver: (t, m) => agent.handle(t, m),
      log,
      cronTriggers: this.o.cronTriggers ?? true,
    })
  }

  /** the ops endpoint (http://host:port), null when off or not started */
  get httpUrl(): string | null {
    return this.server?.url ?? null
  }

  observeCheckpoint(seconds: number): void {
    this.metrics?.observeCheckpoint(seconds)
  }

  ready(): Readiness {
    return this.readiness.check()
  }

  stats(): OpsStats {
    return {
      ready: this.readiness.check(),
      pipelines: this.supervisor.status(),
      jobs: this.scheduler?.status() ?? [],
      upload: this.upload.state(),
      desiredPending: this.hold?.status().pending ?? null,
      prediction: this.predictor.current(),
      stalls: this.stalls?.count() ?? 0,
      httpUrl: this.httpUrl,
    }
  }

  /** take a backlog sample now (also done every ops.prediction.sampleEvery) */
  sample(): void {
    if (!this.parts) return
    const st = this.parts.outbox.stats()
    this.predictor.sample({
      records: st.records,
      bytes: st.bytes,
      diskFreeBytes: diskFree(this.o.config.dataDir),
    })
  }

  async close(): Promise<void> {
    for (const t of this.timers) this.o.clock.clearInterval(t)
    this.stalls?.stop()
    this.scheduler?.close()
    this.hold?.close()
    this.supervisor.close()
    this.upload.close()
    await this.server?.close()
  }

  // reported up as an event record: it drains first and bypasses upload windows
  private event(name: string, value: number, severity: Severity, detail: Record<string, unknown>): void {
    const { config, clock } = this.o
    const ts = clock.now()
    const body: FogEvent = {
      pipelineId: '',
      sensorId: config.nodeId,
      metric: 'node',
      ts,
      kind: 'info',
      name,
      value,
      severity,
      detail,
    }
    this.parts?.writer.write([{ pipelineId: '', stream: 'event', priority: 0, ts, body }])
  }

  private onSupervisor(e: SupervisorEvent): void {
    const log = this.o.log
    if (e.kind === 'restarted') {
      this.metrics?.restarted(e.pipelineId)
      log.info({ pipeline: e.pipelineId, restarts: e.restarts }, 'pipeline restarted')
      return
    }
    const lvl = e.kind === 'quarantined' ? 'error' : 'warn'
    log[lvl]({ pipeline: e.pipelineId, failures: e.failures, err: e.error }, `pipeline ${e.kind}`)
    if (e.kind === 'quarantined')
      this.event('pipeline-quarantined', e.failures, 'critical', { pipeline: e.pipelineId, error: e.error })
  }

  private onStall(ms: number): void {
    this.metrics?.stall(ms)
    this.o.log.warn({ code: 'FOG_EVENT_LOOP_STALL', ms }, 'event loop stalled')
    this.event('event-loop-stall', ms, 'warning', { code: 'FOG_EVENT_LOOP_STALL', ms })
  }
}

// the metrics the node's parts answer directly
function partsSource(p: OpsParts) {
  return {
    readingsByPipeline: () =>
      Object.fromEntries(Object.entries(p.engine.counters()).map(([k, c]) => [k, c.readingsIn])),
    dropped: () => ({ ...p.outbox.stats().dropped, ...p.writer.stats().dropped }),
    outbox: () => {
      const s = p.outbox.stats()
      return { records: s.records, bytes: s.bytes, oldestUnsentAgeMs: p.uplink.stats().oldestUnsentAgeMs }
    },
    uplinkConnected: () => p.uplink.stats().connected,
    journal: () => p.journal?.stats(),
  }
}

/**
 * Unrecoverable: the outbox folder is unwritable, writes keep failing and the writer has had to drop
 * results (its memory hold is full) for `after` ms. Then only a restart can help (a remount, a replaced
 * disk): onFatal, and the CLI exits non-zero so systemd's Restart=on-failure starts the node again.
 */
function watchUnwritable(w: {
  clock: Clock
  log: Logger
  readiness: { writable(): ErrorData | null }
  writer: OpsParts['writer']
  after: number
  onFatal: ((e: ErrorData) => void) | undefined
}): () => void {
  let since: number | null = null
  return () => {
    const unwritable = w.readiness.writable()
    if (!unwritable || !w.writer.lastError()) {
      since = null
      return
    }
    since ??= w.clock.now()
    const dropping = (w.writer.stats().dropped['disk-full'] ?? 0) > 0
    if (dropping && w.clock.now() - since >= w.after) {
      w.log.fatal(
        { err: unwritable },
        'outbox unwritable and results dropped: exiting so the service manager restarts the node',
      )
      w.onFatal?.(unwritable)
      since = null
    }
  }
}

/** Housekeeping on ops.housekeeping.cron: outbox compaction (bounded writes) and dead-letter pruning. */
function housekeeping(config: NodeConfig, clock: Clock, p: OpsParts): JobSpec[] {
  const hk = config.ops.housekeeping
  return [
    {
      name: 'outbox-compact',
      cron: hk.cron,
      timezone: hk.timezone,
      run: () => p.outbox.compact(hk.vacuumMaxBytes),
    },
    {
      name: 'dead-letter-prune',
      cron: hk.cron,
      timezone: hk.timezone,
      run: () => ({ deleted: p.deadLetters.prune(clock.now() - hk.deadLetterMaxAge) }),
    },
  ]
}
