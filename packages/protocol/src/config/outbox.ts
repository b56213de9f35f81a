import { z } from 'zod'
import { ByteSize, Duration } from './common.js'

/** The durable store-and-forward queue on the node. */
export const OutboxConfig = z.strictObject({
  /** NORMAL: survives process crash, may lose the last commits on power loss; FULL: survives power loss */
  synchronous: z.enum(['NORMAL', 'FULL']).default('NORMAL'),
  capacityBytes: ByteSize.prefault(256 * 1024 * 1024),
  capacityRecords: z.number().int().positive().default(5_000_000),
  /** group commit: appends within this window share one transaction */
  commitInterval: Duration.prefault('5ms'),
  ttl: z
    .strictObject({ event: Duration.optional(), summary: Duration.optional(), raw: Duration.optional() })
    .default({}),
})
export type OutboxConfig = z.output<typeof OutboxConfig>
