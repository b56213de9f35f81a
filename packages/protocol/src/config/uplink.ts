import { z } from 'zod'
import { ByteSize, Duration } from './common.js'

/** How the node sends to the cloud. */
export const UplinkConfig = z.strictObject({
  /** cloud broker URLs in order of preference; the first is the primary */
  urls: z.array(z.string().url()).min(1),
  username: z.string().optional(),
  password: z.string().optional(),
  batchMaxRecords: z.number().int().positive().default(500),
  batchMaxBytes: ByteSize.prefault(256 * 1024),
  linger: Duration.prefault('20ms'),
  ackTimeout: Duration.prefault('5s'),
  maxInFlight: z.number().int().positive().default(8),
  deflate: z.union([z.boolean(), z.literal('auto')]).default('auto'),
  heartbeat: Duration.prefault('5s'),
  reconnect: z.strictObject({ min: Duration.prefault('250ms'), max: Duration.prefault('10s') }).prefault({}),
  /** backlog drain cap in records per second (0 = unlimited) */
  drainRate: z.number().nonnegative().default(0),
})
export type UplinkConfig = z.output<typeof UplinkConfig>
