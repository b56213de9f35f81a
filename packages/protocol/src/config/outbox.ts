import { z } from 'zod'
import { ByteSize, Duration } from './common.js'

/** The durable store-and-forward queue on the node. */
export const OutboxConfig = z.strictObject({
  /** NORMAL: survives a process crash, may lose the last commits on power loss; FULL: survives power loss */
  synchronous: z.enum(['NORMAL', 'FULL']).default('NORMAL'),
  capacityBytes: ByteSize.prefault(256 * 1024 * 1024),
  capacityRecords: z.number().int().positive().default(5_000_000),
  /** degradation stops once usage is back under this fraction of the capacity (hysteresis) */
  lowWater: z.number().gt(0).max(1).default(0.9),
  /** hard cap on the database file (SQLite max_page_count); default 2 x capacityBytes + 32 MiB */
  maxFileBytes: ByteSize.optional(),
  /** group commit: appends within this window share one transaction */
  commitInterval: Duration.prefault('5ms'),
  /** a pending group commit is flushed at once when it holds this many records */
  commitMaxRecords: z.number().int().positive().default(20_000),
  ttl: z
    .strictObject({
      event: Duration.optional(),
      summary: Duration.optional(),
      raw: Duration.optional(),
      reported: Duration.optional(),
    })
    .default({}),
  /** summaries rolled up under pressure get windows this many times longer per pass (1-min -> 10-min) */
  rollupFactor: z.number().int().min(2).default(10),
  /** check run at open to detect a corrupt file: quick_check (default), integrity_check, or none */
  integrityCheck: z.enum(['quick', 'full', 'off']).default('quick'),
})
export type OutboxConfig = z.output<typeof OutboxConfig>
export type OutboxConfigInput = z.input<typeof OutboxConfig>
