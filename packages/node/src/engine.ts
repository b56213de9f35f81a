import type { Outbox } from '@fogline/outbox'
import { createEngine, type Engine, type EngineHost, validatePipelines } from '@fogline/pipeline'
import { type ErrorData, toErrorData } from '@fogline/protocol'
import { persistedDesiredPipelines } from './desired/agent.js'
import type { Logger } from './logger.js'
import { CHECKPOINT_KEY } from './writer.js'

export interface StartedEngine {
  engine: Engine
  /** the pipelines it runs: the config file's, or those of the last applied desired state */
  pipelines: unknown
  /** why the node did not start as it was left (pipelines or checkpoint not restored), or null */
  error: ErrorData | null
}

/**
 * Build the engine as the node was left: with the pipelines of the last applied desired document (when
 * desired state is on), so the checkpoint restores into the same pipelines and open windows survive a
 * restart; then restore that checkpoint. Anything that no longer fits is logged and the node starts clean.
 * @example const { engine, pipelines } = startEngine({ config, outbox, desired: true, host, log })
 */
export function startEngine(o: {
  configPipelines: unknown
  outbox: Outbox
  /** desired state is on: prefer its persisted pipelines */
  desired: boolean
  host: EngineHost
  where: { file?: string }
  log: Logger
}): StartedEngine {
  const { outbox, log } = o
  let error: ErrorData | null = null
  let pipelines = o.configPipelines
  const persisted = o.desired ? persistedDesiredPipelines((k) => outbox.getState(k)) : undefined
  if (persisted !== undefined) {
    try {
      validatePipelines(persisted)
      pipelines = persisted
      log.info('starting with the pipelines of the last applied desired state')
    } catch (err) {
      error = toErrorData(err, 'FOG_DESIRED_INVALID')
      error.message = `applied desired pipelines no longer valid: ${error.message}`
      log.warn({ err }, 'persisted desired pipelines are invalid; starting with the config file')
    }
  }
  const engine = createEngine(pipelines, o.host, o.where)
  const saved = outbox.getState(CHECKPOINT_KEY)
  if (saved !== undefined) {
    try {
      engine.restore(saved)
      log.info('pipeline state restored from checkpoint')
    } catch (err) {
      error = toErrorData(err)
      error.message = `checkpoint not restored: ${error.message}`
      log.warn({ err }, 'checkpoint could not be restored; windows start empty')
    }
  }
  return { engine, pipelines, error }
}
