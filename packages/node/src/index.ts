// The node's public API: start a node; the desired-state agent and its health probe for embedders and tests.
export { createDesiredAgent } from './desired/agent.js'
export { type EngineHealthOptions, engineHealth, type HealthProbe } from './desired/health.js'
export type {
  DesiredAgent,
  DesiredAgentDeps,
  DesiredAgentLogger,
  DesiredAgentStatus,
} from './desired/types.js'
export { type FogNode, type NodeStats, type StartNodeOptions, startNode } from './node.js'
export * from './ops/index.js'
// the node's one writer into the outbox: exported for bench/outbox-writer.ts, which measures it as the node uses it
export { Writer, type WriterOptions, type WriterStats } from './writer.js'
