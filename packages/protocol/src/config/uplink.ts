import { z } from 'zod'
import { ByteSize, Duration } from './common.js'
import { UploadSchedule } from './ops.js'

/** How the node sends to the cloud. */
export const UplinkConfig = z.strictObject({
  /** cloud broker URLs in order of preference; the first is the primary */
  urls: z.array(z.string().url()).min(1),
  username: z.string().optional(),
  password: z.string().optional(),
  /** TLS for mqtts:// and wss:// URLs: PEM files (relative to the config file's folder) and the name to verify */
  tls: z
    .strictObject({
      ca: z.string().min(1).optional(),
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      servername: z.string().min(1).optional(),
      /** do not verify the cloud's certificate: only when written here, and warned at every start */
      insecure: z.boolean().default(false),
    })
    .refine((t) => (t.cert === undefined) === (t.key === undefined), {
      message: 'cert and key go together',
      path: ['key'],
    })
    .optional(),
  /** MQTT protocol: 'auto' tries 5 and falls back to 3.1.1 (4) when the broker refuses it (aedes) */
  protocolVersion: z.union([z.literal('auto'), z.literal(4), z.literal(5)]).default('auto'),
  batchMaxRecords: z.number().int().positive().default(500),
  batchMaxBytes: ByteSize.prefault(256 * 1024),
  linger: Duration.prefault('20ms'),
  ackTimeout: Duration.prefault('5s'),
  /** batches awaiting their application ack; 16 x 500 records keeps a 50-100 ms cloud round trip busy */
  maxInFlight: z.number().int().positive().default(16),
  /**
   * of those, batches from the backlog (stored before the connection) when a drain starts; the cloud takes one
   * node's batches in order, so backlog in flight is time a live record waits behind it. The backlog window then
   * grows while backlog acks come back within backlogAckTarget and halves when one does not (1..maxInFlight):
   * with 16 backlog batches in flight live events waited 0.5-1.8 s at the median during a drain
   * (bench/drain.ts), and a fixed 4 cut a fast cloud's drain to a quarter (bench/outbox.ts)
   */
  backlogWindow: z.number().int().positive().default(4),
  /** the ack latency the backlog window aims under; 0: no adaptation, the backlog may use every place */
  backlogAckTarget: Duration.prefault('250ms'),
  deflate: z.union([z.boolean(), z.literal('auto')]).default('auto'),
  /** zlib level for batches: 1 measured ~3x faster than 6 for ~7 % more bytes (bench/outbox.ts) */
  deflateLevel: z.number().int().min(1).max(9).default(1),
  /** with deflate 'auto', bodies smaller than this are sent plain */
  minDeflateBytes: z.number().int().nonnegative().default(256),
  heartbeat: Duration.prefault('15s'),
  reconnect: z.strictObject({ min: Duration.prefault('250ms'), max: Duration.prefault('10s') }).prefault({}),
  /** MQTT keepalive; a blackholed link is noticed after about 1.5 x this */
  keepalive: Duration.prefault('10s'),
  connectTimeout: Duration.prefault('3s'),
  /** how often the outbox is polled for records when no append notified the uplink */
  pollInterval: Duration.prefault('200ms'),
  /** while on a secondary endpoint, how often the primary is probed to return to it */
  probeInterval: Duration.prefault('5s'),
  /** while every endpoint is unreachable (not refusing), how often a TCP connect checks whether one is back */
  reachProbe: Duration.prefault('500ms'),
  /** consecutive connect failures that open an endpoint's circuit breaker (skipped until a probe succeeds) */
  breakerThreshold: z.number().int().positive().default(3),
  /** backlog drain cap in records per second (0 = unlimited); live records are not capped */
  drainRate: z.number().nonnegative().default(0),
  /** upload windows: when the backlog may drain (none: always); bypass streams go at once */
  schedule: UploadSchedule.optional(),
})
export type UplinkConfig = z.output<typeof UplinkConfig>
export type UplinkConfigInput = z.input<typeof UplinkConfig>
