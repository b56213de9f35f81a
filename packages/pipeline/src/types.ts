import type {
  Clock,
  DataStream,
  ErrorCode,
  FogEvent,
  PipelineConfig,
  Reading,
  Summary,
} from '@fogline/protocol'
import type { z } from 'zod'
import type { ModelRegistry } from './models.js'

/** One result a pipeline hands to the node (which appends it to the outbox). */
export interface EngineOutput {
  pipelineId: string
  stream: DataStream
  /** lower drains first and is dropped last; default from STREAM_PRIORITY */
  priority: number
  ts: number
  body: Summary | FogEvent | Reading
}

/** A reading or payload set aside with its reason: counted, kept bounded, never a crash. */
export interface DeadLetter {
  ts: number
  topic: string
  pipelineId: string
  stage?: string
  code: string
  reason: string
  /** the payload, truncated to a few hundred bytes, utf8 or base64 */
  payload: string
}

export interface StageCounters {
  in: number
  out: number
  dropped: number
  errors: number
  /** event-time windows: readings that arrived after their window closed */
  late?: number
}

export interface PipelineCounters {
  readingsIn: number
  /** payloads that failed to decode */
  malformed: number
  outputs: number
  deadLetters: number
  /** keyed `${index}:${type}`, e.g. `0:deadband` */
  stages: Record<string, StageCounters>
}

export interface EngineHost {
  clock: Clock
  /** called synchronously with the outputs of one ingest or tick */
  emit(outputs: EngineOutput[]): void
  deadLetter(d: DeadLetter): void
  /**
   * Supervision hook: when set, a pipeline whose stage throws is stopped (its readings skipped, the other
   * pipelines unaffected) and reported here; `restartPipeline` starts it again. Unset: the throw propagates.
   */
  onPipelineError?(pipelineId: string, err: unknown): void
}

/** Lifecycle: create → (ingest | tick)* → snapshot → close. Restore before the first ingest. */
export interface Engine {
  /** the union of all pipelines' input topic filters (to subscribe to) */
  readonly filters: readonly string[]
  /**
   * hot path: decode and run one MQTT message through every pipeline whose filters match. `now`: its arrival
   * time when the caller has read the clock already (default: the host clock's now)
   */
  ingest(topic: string, payload: Buffer, now?: number): void
  /** close windows that are due at `now` (processing time) or by watermark */
  tick(now?: number): void
  /** JSON-serializable state of all windows and stateful stages */
  snapshot(): unknown
  restore(state: unknown): void
  /** apply a new pipeline set; unchanged pipelines keep their state; throws FoglineError and leaves the running set intact if invalid */
  reload(
    pipelines: unknown,
    where?: { file?: string },
  ): { added: string[]; changed: string[]; removed: string[]; kept: string[] }
  counters(): Record<string, PipelineCounters>
  /** start a pipeline stopped by `onPipelineError` again with fresh stages; false if there is no such pipeline */
  restartPipeline(id: string): boolean
  /** ids of the pipelines stopped by `onPipelineError` and not restarted yet */
  stopped(): string[]
  /** anomaly models by name; `models.set(raw)` replaces them all (throws FOG_CONFIG_INVALID, keeping the old set) */
  readonly models: ModelRegistry
  close(): void
}

/** What a stage instance sees of its pipeline. Created once per stage instance. */
export interface StageContext {
  readonly pipelineId: string
  /** position in the pipeline's stage list */
  readonly index: number
  readonly clock: Clock
  /** the node's anomaly models by name (desired state `models`), shared by all pipelines */
  readonly models: ModelRegistry
  /** the stage's counters (the runner counts in/out/dropped; a stage adds errors and late) */
  readonly counters: StageCounters
  /** arrival time of the message being processed (processing time), set by the runner before each reading */
  now(): number
  /** hand a record to the pipeline's output for `stream` (priority is added by the runner) */
  emit(stream: DataStream, ts: number, body: Summary | FogEvent | Reading): void
  /** set the current reading aside with a reason (counted as an error of this stage) */
  deadLetter(code: ErrorCode, reason: string): void
}

/**
 * A running stage. Lifecycle: create → (process | tick)* → snapshot → close.
 * `process` returns the reading to pass on (the same object, possibly changed, or another one) or
 * undefined to drop it. A returned reading is only valid until `process` is called again.
 */
export interface Stage {
  process(r: Reading): Reading | undefined
  tick?(now: number): void
  /** JSON-serializable state; JSON.parse(JSON.stringify(s)) must restore to the same state */
  snapshot?(): unknown
  restore?(state: unknown): void
  /** emit what the stage holds (open windows, marked partial): its pipeline is being replaced or removed */
  flush?(): void
  close?(): void
}

/**
 * A built-in stage: a plain object registered in stages/index.ts.
 * @example export const filter: StageDef<FilterConfig> = { name: 'filter', schema: FilterConfig, create(c, ctx) { … } }
 */
export interface StageDef<C = any> {
  readonly name: string
  /** strict schema of the stage's YAML object (including `type`); validated once at load, then frozen */
  readonly schema: z.ZodType<C>
  /** the streams this stage emits on (besides passing readings on) */
  readonly emits?: readonly DataStream[]
  create(config: C, ctx: StageContext): Stage
}

export type { PipelineConfig, Reading }
