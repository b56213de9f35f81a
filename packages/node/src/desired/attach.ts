import { type Clock, type NodeConfig, systemClock } from '@fogline/protocol'
import { type FogNode, nodeHooks } from '../node.js'
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
}

/**
 * Wire a desired-state agent into a started node: down messages from the uplink, reports on up/reported,
 * state in the outbox's KV, pipelines through node.applyPipelines, health from the engine's counters,
 * and the heartbeat's configVersion.
 * @example const node = await startNode(config); const agent = attachDesiredAgent(node, config)
 */
export function attachDesiredAgent(
  node: FogNode,
  config: NodeConfig,
  opts: AttachDesiredOptions = {},
): DesiredAgent {
  let current: unknown = opts.pipelines ?? config.pipelines
  const probe = engineHealth(
    () => node.engine.counters(),
    opts.minReadings !== undefined ? { minReadings: opts.minReadings } : {},
  )
  const agent = createDesiredAgent({
    nodeId: config.nodeId,
    group: config.group,
    publicKey: config.desiredPublicKey,
    clock: opts.clock ?? systemClock,
    logger: opts.logger,
    getState: (k) => node.outbox.getState(k),
    putState: (k, v) => node.outbox.putState(k, v),
    applyPipelines(p) {
      node.applyPipelines(p)
      current = p
    },
    currentPipelines: () => current,
    applyModels: (m) => node.engine.models.set(m),
    applyUplink: (u) => node.uplink.reconfigure(u),
    health: probe.check,
    healthReset: probe.reset,
    report: (body) => void node.uplink.publishControl('reported', body),
    healthWindowMs: opts.healthWindowMs,
    healthCheckMs: opts.healthCheckMs,
  })
  const hooks = nodeHooks(node)
  hooks.setOnDown((topic, payload) => void agent.handle(topic, payload))
  hooks.setConfigVersion(() => agent.appliedVersion())
  return agent
}
