import { z } from 'zod'
import { BrokerConfig } from './broker.js'
import { Id } from './common.js'
import { OutboxConfig } from './outbox.js'
import { CheckpointConfig, PipelinesConfig } from './pipeline.js'
import { UplinkConfig } from './uplink.js'

/** A fog node's whole config file. */
export const NodeConfig = z.strictObject({
  nodeId: Id,
  group: Id.default('default'),
  /** outbox, checkpoints and dead letters live here */
  dataDir: z.string().min(1),
  broker: BrokerConfig.default({ host: '127.0.0.1', port: 1883, maxPayload: 256 * 1024 }),
  pipelines: PipelinesConfig.min(1),
  outbox: OutboxConfig.prefault({}),
  uplink: UplinkConfig,
  checkpoint: CheckpointConfig.prefault({}),
  /** Ed25519 public key (PEM or base64 raw) that desired-state documents must be signed with */
  desiredPublicKey: z.string().optional(),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
})
export type NodeConfig = z.output<typeof NodeConfig>
export type NodeConfigInput = z.input<typeof NodeConfig>
