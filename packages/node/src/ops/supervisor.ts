import { type Clock, type ErrorData, toErrorData } from '@fogline/protocol'

export type PipelineState = 'running' | 'restarting' | 'quarantined'

/** One pipeline as the supervisor sees it. */
export interface SupervisedPipeline {
  state: PipelineState
  /** failures since the pipeline last ran `resetAfter` without one */
  failures: number
  restarts: number
  nextRestartAt: number | null
  lastError: ErrorData | null
}

/** What the supervisor reports up (to the log, an event record and the heartbeat). */
export type SupervisorEvent =
  | { kind: 'restarting'; pipelineId: string; failures: number; inMs: number; error: ErrorData }
  | { kind: 'restarted'; pipelineId: string; restarts: number }
  | { kind: 'quarantined'; pipelineId: string; failures: number; error: ErrorData }

export interface SupervisorOptions {
  clock: Clock
  /** consecutive failures after which a pipeline is quarantined (0: the first failure) */
  maxRestarts: number
  /** first restart delay, doubled per failure up to backoffMax */
  backoff: number
  backoffMax: number
  /** a pipeline that runs this long without failing starts counting from zero again */
  resetAfter: number
  /** start the pipeline again (engine.restartPipeline) */
  restart(pipelineId: string): void
  report(e: SupervisorEvent): void
}

/**
 * Restarts failed pipelines with exponential backoff and quarantines one that keeps failing; the others
 * are never touched. Lifecycle: create → failed(id, err)* → close.
 * @example const sup = createSupervisor({ clock, ...config.ops.supervisor, restart: (id) => engine.restartPipeline(id), report })
 *          createEngine(pipelines, { ..., onPipelineError: (id, err) => sup.failed(id, err) })
 */
export function createSupervisor(o: SupervisorOptions) {
  const pipelines = new Map<string, SupervisedPipeline & { timer: unknown; lastStartAt: number }>()
  const get = (id: string) => {
    let p = pipelines.get(id)
    if (!p) {
      p = {
        state: 'running',
        failures: 0,
        restarts: 0,
        nextRestartAt: null,
        lastError: null,
        timer: null,
        lastStartAt: o.clock.now(),
      }
      pipelines.set(id, p)
    }
    return p
  }
  return {
    /** a stage of `pipelineId` threw; the engine has stopped the pipeline */
    failed(pipelineId: string, err: unknown): void {
      const p = get(pipelineId)
      if (p.state !== 'running') return
      const now = o.clock.now()
      if (now - p.lastStartAt >= o.resetAfter) p.failures = 0
      p.failures++
      p.lastError = toErrorData(err, 'FOG_INTERNAL', { pipeline: pipelineId })
      if (p.failures > o.maxRestarts) {
        p.state = 'quarantined'
        p.nextRestartAt = null
        o.report({ kind: 'quarantined', pipelineId, failures: p.failures, error: p.lastError })
        return
      }
      const inMs = Math.min(o.backoffMax, o.backoff * 2 ** (p.failures - 1))
      p.state = 'restarting'
      p.nextRestartAt = now + inMs
      o.report({ kind: 'restarting', pipelineId, failures: p.failures, inMs, error: p.lastError })
      p.timer = o.clock.setTimeout(() => {
        p.timer = null
        if (p.state !== 'restarting') return
        p.state = 'running'
        p.nextRestartAt = null
        p.restarts++
        p.lastStartAt = o.clock.now()
        o.restart(pipelineId)
        o.report({ kind: 'restarted', pipelineId, restarts: p.restarts })
      }, inMs)
    },
    /** a reload or desired state replaced the pipeline: it starts afresh (a quarantine ends) */
    reset(pipelineId: string): void {
      const p = pipelines.get(pipelineId)
      if (p?.timer) o.clock.clearTimeout(p.timer)
      pipelines.delete(pipelineId)
    },
    quarantined(): string[] {
      return [...pipelines].filter(([, p]) => p.state === 'quarantined').map(([id]) => id)
    },
    status(): Record<string, SupervisedPipeline> {
      const out: Record<string, SupervisedPipeline> = {}
      for (const [id, { timer: _t, lastStartAt: _l, ...p }] of pipelines) out[id] = { ...p }
      return out
    },
    close(): void {
      for (const p of pipelines.values()) if (p.timer) o.clock.clearTimeout(p.timer)
    },
  }
}

export type Supervisor = ReturnType<typeof createSupervisor>
