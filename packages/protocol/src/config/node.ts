import { z } from 'zod'
import { KeySet } from '../keyset.js'
import { BrokerConfig } from './broker.js'
import { Id } from './common.js'
import { IngestConfig } from './ingest.js'
import { OpsConfig } from './ops.js'
import { OutboxConfig } from './outbox.js'
import { CheckpointConfig, PipelinesConfig } from './pipeline.js'
import { UplinkConfig } from './uplink.js'

const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

/** A fog node's whole config file. */
export const NodeConfig = z.strictObject({
  nodeId: Id,
  group: Id.default('default'),
  /** outbox, checkpoints and dead letters live here */
  dataDir: z.string().min(1),
  broker: BrokerConfig.prefault({}),
  pipelines: PipelinesConfig.min(1),
  ingest: IngestConfig.prefault({}),
  outbox: OutboxConfig.prefault({}),
  uplink: UplinkConfig,
  checkpoint: CheckpointConfig.prefault({}),
  /**
   * The keys desired-state documents must be signed with: each a public key with scopes (pipelines, models,
   * uplink) and a not-after date. The initial set: a rotation document signed by a current key replaces it.
   */
  desiredKeys: KeySet.optional(),
  /** metrics and health endpoint, supervision, schedules, housekeeping, prediction (docs/gateway.md) */
  ops: OpsConfig.prefault({}),
  log: z
    .strictObject({
      level: LogLevel.default('info'),
      /** a level per module, e.g. { uplink: debug, broker: warn } */
      modules: z.record(z.string(), LogLevel).default({}),
      /** json (default), or pretty when pino-pretty is installed and stderr is a terminal */
      format: z.enum(['auto', 'json']).default('auto'),
    })
    .prefault({}),
})
export type NodeConfig = z.output<typeof NodeConfig>
export type NodeConfigInput = z.input<typeof NodeConfig>
