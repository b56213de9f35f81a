import type { Outbox } from '@fogline/outbox'
import type { Engine } from '@fogline/pipeline'
import { type Clock, type DesiredUplink, type NodeConfig, systemClock } from '@fogline/protocol'
import { createDesiredAgent, type DesiredAgent, type DesiredAgentLogger } from './agent.js'
import { engineHealth } from './health.js'

export interface AttachDesiredOptions {
  clock?: Clock
  logger?: DesiredAgentLogger
  /** default 10 s */
  healthWindowMs?: number
  /** default 1 s */
  healthCheckMs?: number
  /** readings needed before "everything dropped" is judged (default 20) */
  minReadings?: number
  /** the pipelines the engine was started with (default config.pipelines) */
  pipelines?: unknown
  /** a new version fails its health check when the node loses its cloud link in the window (default true) */
  healthRequiresConnection?: boolean
}

/** What the agent works with, handed over by the composition root: functions and parts, never the node. */
export interface DesiredParts {
  config: NodeConfig
  /** state KV (survives restarts) and the durable `reported` stream */
  outbox: Pick<Outbox, 'getState' | 'putState' | 'append'>
  engine: Pick<Engine, 'counters' | 'models'>
  /** hot-reload pipelines (the node's own reload, which also checkpoints) */
  applyPipelines(pipelines: unknown): void
  applyUplink(settings: DesiredUplink): void
  /** true while the uplink is connected (a health check) */
  connected(): boolean
}

/**
 * Build the desired-state agent from the node's parts: state in the outbox's KV, reports appended to the
 * outbox's `reported` stream (durable, acked by the cloud, sent like events: a report made offline arrives
 * after reconnect, and after a restart), pipelines through `applyPipelines`, health from the engine's counters.
 * The caller routes down messages to `agent.handle` and reads `agent.appliedVersion` for the heartbeat.
 * @example const agent = attachDesiredAgent({ config, outbox, engine, applyPipelines, applyUplink: (u) => uplink.reconfigure(u) })
 */
export function attachDesiredAgent(parts: DesiredParts, opts: AttachDesiredOptions = {}): DesiredAgent {
  const { config, outbox, engine } = parts
  let current: unknown = opts.pipelines ?? config.pipelines
  const clock = opts.clock ?? systemClock
  const probe = engineHealth(() => engine.counters(), {
    now: () => clock.now(),
    ...(opts.minReadings !== undefined ? { minReadings: opts.minReadings } : {}),
    ...(opts.healthRequiresConnection !== false ? { connected: parts.connected } : {}),
  })
  const log = opts.logger
  return createDesiredAgent({
    nodeId: config.nodeId,
    group: config.group,
    keys: config.desiredKeys,
    clock,
    logger: log,
    getState: (k) => outbox.getState(k),
    putState: (k, v) => outbox.putState(k, v),
    applyPipelines(p) {
      parts.applyPipelines(p)
      current = p
    },
    currentPipelines: () => current,
    applyModels: (m) => engine.models.set(m),
    applyUplink: parts.applyUplink,
    health: probe.check,
    healthBeforeChange: probe.beforeChange,
    healthReset: probe.reset,
    report(body) {
      outbox.append([{ stream: 'reported', ts: body.ts, body }]).catch((err: unknown) => {
        log?.warn({ err: (err as Error).message }, 'desired-state report not stored; it is lost')
      })
    },
    healthWindowMs: opts.healthWindowMs,
    healthCheckMs: opts.healthCheckMs,
  })
}
