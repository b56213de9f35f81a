import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { DurableIngestStats } from '../journal/ingest.js'

/** What the node's metrics read at scrape time (nothing is counted twice on the hot path). */
export interface MetricsSource {
  /** readings taken per pipeline (the engine's counters) */
  readingsByPipeline(): Record<string, number>
  /** records removed without being sent, by reason (outbox degradation, TTL, disk full) */
  dropped(): Record<string, number>
  outbox(): { records: number; bytes: number; oldestUnsentAgeMs: number | null }
  uplinkConnected(): boolean
  /** pipelines by supervision state */
  pipelineStates?(): Record<string, 'running' | 'restarting' | 'quarantined'>
  /** scheduled jobs: last run, result and next run (epoch ms) */
  jobs?(): ReadonlyArray<{
    name: string
    lastRunAt: number | null
    ok: boolean | null
    nextRunAt: number | null
  }>
  /** predicted time the outbox reaches capacity (epoch ms), null when not heading there */
  predictedFullAt?(): number | null
  /** the ingest journal since start, when it is on */
  journal?(): JournalMetrics | undefined
}

/** What the metrics read from the ingest journal (its stats, journal/ingest.ts). */
export type JournalMetrics = Pick<DurableIngestStats, 'appended' | 'bytes' | 'replayed' | 'held' | 'resent'>

/** The node's Prometheus metrics (own registry: several nodes may share a process in tests). */
export interface NodeMetrics {
  readonly registry: Registry
  /** how long one checkpoint commit took */
  observeCheckpoint(seconds: number): void
  /** an event-loop stall of `ms` was seen */
  stall(ms: number): void
  /** a pipeline was restarted by the supervisor */
  restarted(pipelineId: string): void
  /** the exposition text and its content type */
  scrape(): Promise<{ body: string; contentType: string }>
}

// counters owned elsewhere (engine, outbox) are mirrored at scrape: reset, then set to the current total
function mirror(c: Counter<string>, label: string, values: Record<string, number>): void {
  c.reset()
  for (const [k, v] of Object.entries(values)) if (v > 0) c.inc({ [label]: k }, v)
}

type Registers = Registry[]

/**
 * A gauge or a counter whose value is read at scrape time (absent while `read` gives undefined). prom-client's
 * Counter has no `set`: it is reset and increased to the current total, as `mirror` does.
 */
function scraped(
  kind: 'gauge' | 'counter',
  registers: Registers,
  name: string,
  help: string,
  read: () => number | undefined,
): void {
  const collect = function (this: Gauge | Counter) {
    this.reset()
    const v = read()
    if (v === undefined) return
    if (this instanceof Gauge) this.set(v)
    else this.inc(v)
  }
  if (kind === 'gauge') new Gauge({ name, help, registers, collect })
  else new Counter({ name, help, registers, collect })
}

// gauges and counters that read the node's state at scrape time
function stateMetrics(src: MetricsSource, registers: Registers): void {
  new Counter({
    name: 'fogline_node_readings_total',
    help: 'Readings taken, by pipeline',
    labelNames: ['pipeline'],
    registers,
    collect() {
      mirror(this, 'pipeline', src.readingsByPipeline())
    },
  })
  new Counter({
    name: 'fogline_node_dropped_total',
    help: 'Records removed without being sent, by reason',
    labelNames: ['reason'],
    registers,
    collect() {
      mirror(this, 'reason', src.dropped())
    },
  })
  const gauge = (name: string, help: string, read: () => number) =>
    scraped('gauge', registers, name, help, read)
  gauge(
    'fogline_node_outbox_records',
    'Records in the outbox not yet acknowledged by the cloud',
    () => src.outbox().records,
  )
  gauge('fogline_node_outbox_bytes', 'Bytes of the records in the outbox', () => src.outbox().bytes)
  gauge(
    'fogline_node_outbox_oldest_unsent_seconds',
    'Age of the oldest record not yet acknowledged (0 when empty)',
    () => (src.outbox().oldestUnsentAgeMs ?? 0) / 1000,
  )
  gauge('fogline_node_uplink_connected', '1 while the uplink is connected to the cloud', () =>
    src.uplinkConnected() ? 1 : 0,
  )
  new Gauge({
    name: 'fogline_node_pipeline_up',
    help: '1 while a pipeline runs, 0 while it waits for a restart or is quarantined',
    labelNames: ['pipeline', 'state'],
    registers,
    collect() {
      this.reset()
      for (const [p, s] of Object.entries(src.pipelineStates?.() ?? {}))
        this.set({ pipeline: p, state: s }, s === 'running' ? 1 : 0)
    },
  })
  new Gauge({
    name: 'fogline_node_outbox_predicted_full_timestamp_seconds',
    help: 'When the outbox is predicted to reach capacity (absent when it is not heading there)',
    registers,
    collect() {
      this.reset()
      const at = src.predictedFullAt?.() ?? null
      if (at !== null) this.set(at / 1000)
    },
  })
}

// the ingest journal: what it takes and writes, what a restart replayed, the QoS 2 ids it keeps (absent when off)
function journalMetrics(src: MetricsSource, registers: Registers): void {
  const journal = (
    kind: 'gauge' | 'counter',
    name: string,
    help: string,
    pick: (j: JournalMetrics) => number,
  ) =>
    scraped(kind, registers, name, help, () => {
      const j = src.journal?.()
      return j === undefined ? undefined : pick(j)
    })
  const counter = (name: string, help: string, pick: (j: JournalMetrics) => number) =>
    journal('counter', name, help, pick)
  const gauge = (name: string, help: string, pick: (j: JournalMetrics) => number) =>
    journal('gauge', name, help, pick)
  counter(
    'fogline_node_journal_readings_total',
    'QoS 1 and 2 readings journaled before their ack',
    (j) => j.appended,
  )
  counter(
    'fogline_node_journal_bytes_total',
    'Bytes written to the ingest journal (flash wear)',
    (j) => j.bytes,
  )
  gauge(
    'fogline_node_journal_replayed_readings',
    'Readings replayed from the journal at the last start',
    (j) => j.replayed,
  )
  gauge('fogline_node_qos2_held_ids', 'QoS 2 packet ids taken and not yet released (PUBREL)', (j) => j.held)
  counter(
    'fogline_node_qos2_resends_total',
    'QoS 2 resends and PUBRELs of ids taken before a restart, not taken again',
    (j) => j.resent,
  )
}

type Job = ReturnType<NonNullable<MetricsSource['jobs']>>[number]

// every scheduled job's last run, result and next run
function jobMetrics(src: MetricsSource, registers: Registers): void {
  const job = (name: string, help: string, pick: (j: Job) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['job'],
      registers,
      collect() {
        this.reset()
        for (const j of src.jobs?.() ?? []) {
          const v = pick(j)
          if (v !== null) this.set({ job: j.name }, v)
        }
      },
    })
  job('fogline_node_job_last_run_timestamp_seconds', 'When a scheduled job last ran', (j) =>
    j.lastRunAt === null ? null : j.lastRunAt / 1000,
  )
  job('fogline_node_job_last_success', '1 if the last run of a job succeeded, 0 if it failed', (j) =>
    j.ok === null ? null : j.ok ? 1 : 0,
  )
  job('fogline_node_job_next_run_timestamp_seconds', 'When a scheduled job runs next', (j) =>
    j.nextRunAt === null ? null : j.nextRunAt / 1000,
  )
}

/**
 * Prometheus metrics of a fog node: `fogline_node_*` plus prom-client's default process metrics
 * (RSS, CPU, heap, event-loop lag).
 * @example const m = createNodeMetrics(source); http.get('/metrics', async () => (await m.scrape()).body)
 */
export function createNodeMetrics(src: MetricsSource, opts: { defaultMetrics?: boolean } = {}): NodeMetrics {
  const registry = new Registry()
  const registers = [registry]
  if (opts.defaultMetrics !== false)
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 })
  stateMetrics(src, registers)
  jobMetrics(src, registers)
  journalMetrics(src, registers)
  const checkpoint = new Histogram({
    name: 'fogline_node_checkpoint_seconds',
    help: 'Time to commit one checkpoint of the pipeline state',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  })
  const stalls = new Counter({
    name: 'fogline_node_event_loop_stalls_total',
    help: 'Times the event loop was blocked longer than ops.stallThreshold',
    registers,
  })
  const stallSeconds = new Gauge({
    name: 'fogline_node_event_loop_last_stall_seconds',
    help: 'How long the last event-loop stall lasted',
    registers,
  })
  const restarts = new Counter({
    name: 'fogline_node_pipeline_restarts_total',
    help: 'Pipeline restarts by the supervisor after a stage threw',
    labelNames: ['pipeline'],
    registers,
  })
  return {
    registry,
    observeCheckpoint: (s) => checkpoint.observe(s),
    stall(ms) {
      stalls.inc()
      stallSeconds.set(ms / 1000)
    },
    restarted: (p) => restarts.inc({ pipeline: p }),
    async scrape() {
      return { body: await registry.metrics(), contentType: registry.contentType }
    },
  }
}
