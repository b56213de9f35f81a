import { z } from 'zod'
import { ByteSize, Duration } from './common.js'

// five fields (minute hour day-of-month month day-of-week): windows and jobs are evaluated minute by minute
const CRON5 = /^\s*\S+\s+\S+\s+\S+\s+\S+\s+\S+\s*$/

/** A cron expression of five fields, e.g. `0 2 * * *` (02:00 every day). node-cron syntax. */
export const Cron = z.string().regex(CRON5, 'must be a cron expression of five fields, e.g. "0 2 * * *"')

/** A recurring window: opens at every match of `cron` and stays open for `duration`. */
export const CronWindow = z.strictObject({
  cron: Cron,
  duration: Duration,
  /** IANA time zone the cron is read in (e.g. Europe/Berlin); default the machine's */
  timezone: z.string().optional(),
})
export type CronWindow = z.output<typeof CronWindow>

/**
 * When the backlog may drain (metered, cellular or satellite links). Outside every window only the
 * `bypass` streams go up at once; the rest waits in the outbox.
 */
export const UploadSchedule = z.strictObject({
  windows: z.array(CronWindow).min(1),
  /** streams sent at once even outside a window */
  bypass: z.array(z.enum(['event', 'reported', 'summary', 'raw'])).default(['event', 'reported']),
  /**
   * A Pi has no RTC: until the clock is trusted the node uplinks as if unscheduled (and says why).
   * `timesync`: trusted once systemd-timesyncd marks it synchronized (`/run/systemd/timesync/synchronized`);
   * `always`: trust the clock as it is.
   */
  clockTrust: z.enum(['timesync', 'always']).default('timesync'),
})
export type UploadSchedule = z.output<typeof UploadSchedule>

/** The node's operations: local HTTP endpoint, supervision, housekeeping, prediction. */
export const OpsConfig = z.strictObject({
  /**
   * `/metrics`, `/healthz`, `/readyz` on loopback. The port defaults to 0 (any free one, printed at start):
   * several nodes on one machine (the demo, tests) never collide; a gateway's config pins 9464 for
   * Prometheus (deploy/node.yaml). `false` turns it off.
   */
  http: z
    .union([
      z.strictObject({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(0),
      }),
      z.literal(false),
    ])
    .prefault({}),
  supervisor: z
    .strictObject({
      /** consecutive failed restarts after which a pipeline is quarantined */
      maxRestarts: z.number().int().min(0).default(5),
      /** first restart delay; doubles per restart up to backoffMax */
      backoff: Duration.prefault('1s'),
      backoffMax: Duration.prefault('1m'),
      /** a pipeline that runs this long without throwing starts counting from zero again */
      resetAfter: Duration.prefault('10m'),
    })
    .prefault({}),
  /**
   * the node exits non-zero (so systemd restarts it) when the outbox has been unwritable this long and
   * results are being dropped: nowhere is left to hold them
   */
  exitAfterUnwritable: Duration.prefault('2m'),
  /** the event loop blocked longer than this is a stall: counted, logged and reported */
  stallThreshold: Duration.prefault('1s'),
  /** desired-state documents are applied only inside these windows (urgent ones at once); none: at once */
  maintenance: z.array(CronWindow).default([]),
  housekeeping: z
    .strictObject({
      /** when the outbox is compacted and dead letters pruned */
      cron: Cron.default('17 3 * * *'),
      timezone: z.string().optional(),
      /** pages written per vacuum step (SQLite incremental vacuum): bounds the write burst */
      vacuumMaxBytes: ByteSize.prefault('4MiB'),
      /** dead letters older than this are pruned */
      deadLetterMaxAge: Duration.prefault('7d'),
    })
    .prefault({}),
  prediction: z
    .strictObject({
      /** warn when the outbox is predicted to reach capacity within this time */
      warnAhead: Duration.prefault('1h'),
      /** backlog samples over this span make the trend */
      trendOver: Duration.prefault('10m'),
      sampleEvery: Duration.prefault('15s'),
    })
    .prefault({}),
})
export type OpsConfig = z.output<typeof OpsConfig>
export type OpsConfigInput = z.input<typeof OpsConfig>
