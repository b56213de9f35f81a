import type { Clock, DataStream, ErrorCode, FogEvent, Reading, Summary } from '@fogline/protocol'
import { FoglineError, matchTopicLevels } from '@fogline/protocol'
import { canonicalJson, resolveOutputs, validatePipelines, type Where } from './config.js'
import { compileDecoder, type Decode } from './decode.js'
import { ModelRegistry } from './models.js'
import { stageRegistry } from './stages/index.js'
import type {
  Engine,
  EngineHost,
  EngineOutput,
  PipelineConfig,
  PipelineCounters,
  Stage,
  StageContext,
  StageCounters,
} from './types.js'

const DEAD_PAYLOAD_BYTES = 256
/** bound on the topic → pipelines cache; cleared when full (sensor topics are few and repeat) */
const TOPIC_CACHE_MAX = 10_000

/** The engine's per-message scratch, shared with every stage context (one object, no per-reading closures). */
interface Current {
  topic: string
  payload: Buffer
  now: number
  out: EngineOutput[]
}

/**
 * One copy of a topic level that many topics share ('sensors', 'temperature'): V8 keeps a single, weakly held
 * copy of every string used as a property name, and Object.keys hands that copy back. A level made by
 * `split` is a new string per topic, ~28 B a sensor for each such level (bench/heap-per-conn.ts). Only the
 * memory use depends on this; a level that is an array index ('12') comes back as a new string.
 */
function shared(level: string): string {
  return Object.keys({ [level]: 0 })[0]!
}

function payloadText(p: Buffer): string {
  const b = p.subarray(0, DEAD_PAYLOAD_BYTES)
  const s = b.toString('utf8')
  // printable utf8 as is, anything else as base64
  return /^[\x20-\x7e\t\r\n\u00a0-\uffff]*$/.test(s) && !s.includes('\ufffd')
    ? s
    : `base64:${b.toString('base64')}`
}

class PipelineRun {
  readonly id: string
  readonly def: string
  /** input filters split into levels once */
  readonly filters: string[][]
  readonly decode: Decode
  readonly stages: Stage[] = []
  readonly types: string[]
  readonly counters: PipelineCounters
  /** stopped after a stage threw (supervised engines only) */
  stopped = false
  private readonly stageCounters: StageCounters[] = []
  private readonly priority: Partial<Record<DataStream, number>> = {}
  private readonly rawPriority: number
  /** one reading object per pipeline, refilled by the decoder: no allocation per message */
  private readonly scratch: Reading = { sensorId: '', metric: '', value: 0, ts: 0 }

  constructor(
    readonly cfg: PipelineConfig,
    private readonly cur: Current,
    private readonly host: EngineHost,
    clock: Clock,
    models: ModelRegistry,
  ) {
    this.id = cfg.id
    this.def = canonicalJson(cfg)
    this.filters = cfg.input.map((f) => f.split('/'))
    this.decode = compileDecoder(cfg.decoder)
    for (const o of resolveOutputs(cfg)) this.priority[o.stream] = o.priority
    this.rawPriority = this.priority.raw ?? -1
    this.types = cfg.stages.map((s) => s.type)
    this.counters = { readingsIn: 0, malformed: 0, outputs: 0, deadLetters: 0, stages: {} }
    cfg.stages.forEach((s, i) => {
      const c: StageCounters = { in: 0, out: 0, dropped: 0, errors: 0 }
      this.counters.stages[`${i}:${s.type}`] = c
      this.stageCounters.push(c)
      const ctx: StageContext = {
        pipelineId: this.id,
        index: i,
        clock,
        models,
        counters: c,
        now: () => this.cur.now,
        emit: (stream, ts, body) => this.emit(stream, ts, body),
        deadLetter: (code, reason) => {
          c.errors++
          this.deadLetter(code, reason, `${i}:${s.type}`)
        },
      }
      this.stages.push(stageRegistry.get(s.type)!.create(s, ctx))
    })
  }

  emit(stream: DataStream, ts: number, body: Summary | FogEvent | Reading): void {
    this.counters.outputs++
    this.cur.out.push({ pipelineId: this.id, stream, priority: this.priority[stream] ?? 1, ts, body })
  }

  deadLetter(code: ErrorCode, reason: string, stage?: string): void {
    this.counters.deadLetters++
    const d = {
      ts: this.cur.now,
      topic: this.cur.topic,
      pipelineId: this.id,
      code,
      reason,
      payload: payloadText(this.cur.payload),
    }
    this.host.deadLetter(stage ? { ...d, stage } : d)
  }

  run(segments: readonly string[], payload: Buffer, now: number): void {
    this.counters.readingsIn++
    const err = this.decode(segments, payload, now, this.scratch)
    if (err !== undefined) {
      this.counters.malformed++
      this.deadLetter('FOG_PAYLOAD_MALFORMED', err)
      return
    }
    let r: Reading | undefined = this.scratch
    const stages = this.stages
    for (let i = 0; i < stages.length; i++) {
      const c = this.stageCounters[i]!
      c.in++
      const errors = c.errors
      r = stages[i]!.process(r)
      if (r === undefined) {
        if (c.errors === errors) c.dropped++
        return
      }
      c.out++
    }
    if (this.rawPriority >= 0) {
      // copy: the scratch reading is refilled by the next message
      const copy: Reading = { sensorId: r.sensorId, metric: r.metric, value: r.value, ts: r.ts }
      if (r.fields) copy.fields = { ...r.fields }
      this.emit('raw', r.ts, copy)
    }
  }

  tick(now: number): void {
    for (const s of this.stages) s.tick?.(now)
  }

  snapshot(): unknown {
    return { def: this.def, stages: this.stages.map((s) => (s.snapshot ? s.snapshot() : null)) }
  }

  restore(state: { def: string; stages: unknown[] }): boolean {
    if (state.def !== this.def) return false
    this.stages.forEach((s, i) => {
      const st = state.stages[i]
      if (s.restore && st !== null && st !== undefined) s.restore(st)
    })
    return true
  }

  /** emit what the stages hold (open windows as partial summaries), in stage order */
  flush(now: number): void {
    this.cur.now = now
    for (const s of this.stages) s.flush?.()
  }

  close(): void {
    for (const s of this.stages) s.close?.()
  }
}

interface TopicEntry {
  segments: string[]
  runs: PipelineRun[]
}

class EngineImpl implements Engine {
  private runs: PipelineRun[] = []
  private readonly topics = new Map<string, TopicEntry>()
  private lastRuns: PipelineRun[] | undefined
  private readonly cur: Current = { topic: '', payload: Buffer.alloc(0), now: 0, out: [] }
  private closed = false
  readonly models = new ModelRegistry()

  constructor(
    pipelines: unknown,
    private readonly host: EngineHost,
    where: Where,
  ) {
    this.runs = validatePipelines(pipelines, where).map(
      (p) => new PipelineRun(p, this.cur, host, host.clock, this.models),
    )
  }

  get filters(): readonly string[] {
    return [...new Set(this.runs.flatMap((r) => r.cfg.input))]
  }

  ingest(topic: string, payload: Buffer, now?: number): void {
    let e = this.topics.get(topic)
    if (e === undefined) {
      const segments = topic.split('/').map(shared)
      e = {
        segments,
        runs: this.shareRuns(this.runs.filter((r) => r.filters.some((f) => matchTopicLevels(f, segments)))),
      }
      if (this.topics.size >= TOPIC_CACHE_MAX) this.topics.clear()
      this.topics.set(topic, e)
    }
    if (e.runs.length === 0) return
    const cur = this.cur
    cur.topic = topic
    cur.payload = payload
    cur.now = now ?? this.host.clock.now()
    if (this.host.onPipelineError) {
      for (let i = 0; i < e.runs.length; i++) {
        const r = e.runs[i]!
        if (r.stopped) continue
        try {
          r.run(e.segments, payload, cur.now)
        } catch (err) {
          this.stop(r, err)
        }
      }
    } else for (let i = 0; i < e.runs.length; i++) e.runs[i]!.run(e.segments, payload, cur.now)
    this.flush()
  }

  /** forget every topic's pipelines (they changed), and the shared array, which may hold pipelines now gone */
  private clearTopics(): void {
    this.topics.clear()
    this.lastRuns = undefined
  }

  /**
   * The pipelines of a new topic: one array for every topic that has the same ones as the topic before (with
   * a topic per sensor, every topic; `filter` leaves a 17-slot array, ~180 B a sensor). Never written to.
   */
  private shareRuns(runs: PipelineRun[]): PipelineRun[] {
    const last = this.lastRuns
    if (last !== undefined && last.length === runs.length && last.every((r, i) => r === runs[i])) return last
    this.lastRuns = runs.slice()
    return this.lastRuns
  }

  // one failing pipeline must not take the others down: it stops and the host's supervisor decides
  private stop(r: PipelineRun, err: unknown): void {
    r.stopped = true
    this.host.onPipelineError?.(r.id, err)
  }

  restartPipeline(id: string): boolean {
    const i = this.runs.findIndex((r) => r.id === id)
    if (i < 0) return false
    const old = this.runs[i]!
    try {
      old.close()
    } catch {}
    const fresh = new PipelineRun(old.cfg, this.cur, this.host, this.host.clock, this.models)
    // counters carry over: readings counted before the restart stay counted
    Object.assign(fresh.counters, { ...old.counters, stages: fresh.counters.stages })
    this.runs[i] = fresh
    this.clearTopics()
    return true
  }

  stopped(): string[] {
    return this.runs.filter((r) => r.stopped).map((r) => r.id)
  }

  private flush(): void {
    const out = this.cur.out
    if (out.length === 0) return
    this.cur.out = []
    this.host.emit(out)
  }

  tick(now: number = this.host.clock.now()): void {
    this.cur.now = now
    this.cur.topic = ''
    for (const r of this.runs) {
      if (r.stopped) continue
      if (!this.host.onPipelineError) r.tick(now)
      else
        try {
          r.tick(now)
        } catch (err) {
          this.stop(r, err)
        }
    }
    this.flush()
  }

  snapshot(): unknown {
    const pipelines: Record<string, unknown> = {}
    for (const r of this.runs) pipelines[r.id] = r.snapshot()
    return { v: 1, pipelines }
  }

  restore(state: unknown): void {
    const s = state as { v?: unknown; pipelines?: Record<string, { def: string; stages: unknown[] }> } | null
    if (s?.v !== 1 || typeof s.pipelines !== 'object' || s.pipelines === null)
      throw new FoglineError('FOG_CONFIG_INVALID', 'pipeline checkpoint has an unknown format', {})
    for (const r of this.runs) {
      const ps = s.pipelines[r.id]
      // a pipeline whose definition changed since the checkpoint starts empty: its old state may not fit
      if (ps && typeof ps.def === 'string' && Array.isArray(ps.stages)) r.restore(ps)
    }
  }

  reload(pipelines: unknown, where: Where = {}) {
    const valid = validatePipelines(pipelines, where)
    const old = new Map(this.runs.map((r) => [r.id, r]))
    const res = {
      added: [] as string[],
      changed: [] as string[],
      removed: [] as string[],
      kept: [] as string[],
    }
    const next: PipelineRun[] = []
    try {
      for (const p of valid) {
        const prev = old.get(p.id)
        if (prev && prev.def === canonicalJson(p)) {
          next.push(prev)
          res.kept.push(p.id)
        } else {
          next.push(new PipelineRun(p, this.cur, this.host, this.host.clock, this.models))
          ;(prev ? res.changed : res.added).push(p.id)
        }
      }
    } catch (e) {
      for (const r of next) if (!old.has(r.id) || old.get(r.id) !== r) r.close()
      throw e
    }
    const keep = new Set(next)
    // replaced and removed pipelines hand over their open windows as partial summaries: a reload loses no reading
    this.cur.topic = ''
    for (const r of this.runs) if (!keep.has(r)) r.flush(this.host.clock.now())
    this.flush()
    for (const r of this.runs) if (!keep.has(r)) r.close()
    for (const id of old.keys()) if (!valid.some((p) => p.id === id)) res.removed.push(id)
    this.runs = next
    this.clearTopics()
    return res
  }

  counters(): Record<string, PipelineCounters> {
    const out: Record<string, PipelineCounters> = {}
    for (const r of this.runs) out[r.id] = structuredClone(r.counters)
    return out
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    for (const r of this.runs) r.close()
    this.runs = []
    this.clearTopics()
  }
}

/**
 * Create the pipeline engine. Throws FoglineError (FOG_CONFIG_INVALID, FOG_STAGE_UNKNOWN, FOG_EXPR_INVALID) on a bad config.
 * @example
 * const engine = createEngine(cfg.pipelines, { clock: systemClock, emit: (outs) => outbox.append(outs), deadLetter: log })
 * engine.ingest('sensors/s1/temperature', Buffer.from('21.5'))
 */
export function createEngine(pipelines: unknown, host: EngineHost, where: Where = {}): Engine {
  return new EngineImpl(pipelines, host, where)
}
