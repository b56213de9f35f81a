import type { Clock } from '@fogline/protocol'

/** What one retention pass did. */
export interface RetentionResult {
  /** sub-hour summaries merged into hourly ones (and removed) */
  rolledUp: number
  /** hourly summaries written by the merge */
  hourly: number
  /** summaries deleted for being older than the delete cutoff */
  deleted: number
}

/** Cutoffs of one pass, epoch ms: windows ending at or before them are rolled up / deleted. */
export interface RetentionCutoffs {
  rollupBefore: number
  deleteBefore: number
}

const HOUR = 3_600_000

/**
 * The SQL of one retention pass, the same for SQLite and PostgreSQL (integer division of BIGINT columns
 * floors in both). Rolled-up rows keep the node's id and get seq = -(smallest merged seq): unique per node
 * (the merged sets are disjoint) and never mistaken for a delivery seq (those are positive). A rolled-up
 * row is an hour long, so a second pass leaves it alone: the pass is idempotent.
 * Run the three statements in one transaction, in order; the parameter is the rollup cutoff for the first
 * two and the delete cutoff for the third.
 */
export function retentionSql(param: (i: number) => string): {
  rollup: string
  removeMerged: string
  remove: string
} {
  const sub = `superseded = 0 AND seq > 0 AND wend - wstart < ${HOUR} AND wend <= ${param(1)}`
  const bucket = `(wstart / ${HOUR}) * ${HOUR}`
  return {
    rollup: `INSERT INTO summaries (node_id, seq, pipeline_id, sensor_id, metric, wstart, wend, cnt, vmin, vmax, vmean, vsum, aggs, received_at)
      SELECT node_id, -MIN(seq), pipeline_id, sensor_id, metric, ${bucket}, ${bucket} + ${HOUR}, SUM(cnt), MIN(vmin), MAX(vmax),
        CASE WHEN SUM(cnt) > 0 THEN SUM(vsum) / SUM(cnt) ELSE AVG(vmean) END, SUM(vsum), NULL, MAX(received_at)
      FROM summaries WHERE ${sub}
      GROUP BY node_id, pipeline_id, sensor_id, metric, ${bucket}
      ON CONFLICT DO NOTHING`,
    // superseded rows are hidden already: they go with the merged ones
    removeMerged: `DELETE FROM summaries WHERE (${sub}) OR (superseded = 1 AND wend <= ${param(1)})`,
    remove: `DELETE FROM summaries WHERE wend <= ${param(1)}`,
  }
}

export interface RetentionOptions {
  store: { retain(c: RetentionCutoffs): Promise<RetentionResult> }
  clock: Clock
  /** summaries older than this (by window end) are rolled up to hourly */
  rollupAfter: number
  /** and older than this deleted */
  deleteAfter: number
  /** how often a pass runs (and once at start) */
  every: number
  logger: { info(o: object, m: string): void; error(o: object, m: string): void }
}

/**
 * The cloud's retention job: a pass at start and every `every` on the injected clock. A pass is
 * idempotent, so a missed or repeated one (restart, sleep) only moves the work to the next.
 * @example const stop = startRetention({ store, clock, rollupAfter: 30 * DAY, deleteAfter: 400 * DAY, every: HOUR, logger })
 */
export function startRetention(o: RetentionOptions): { run(): Promise<RetentionResult>; stop(): void } {
  let running: Promise<RetentionResult> | null = null
  const run = () => {
    running ??= (async () => {
      const now = o.clock.now()
      try {
        const r = await o.store.retain({
          rollupBefore: now - o.rollupAfter,
          deleteBefore: now - o.deleteAfter,
        })
        if (r.rolledUp || r.deleted)
          o.logger.info({ ...r }, 'retention: summaries rolled up to hourly and deleted')
        return r
      } catch (err) {
        o.logger.error({ err }, 'retention pass failed; the next one retries')
        return { rolledUp: 0, hourly: 0, deleted: 0 }
      } finally {
        running = null
      }
    })()
    return running
  }
  const timer = o.clock.setInterval(() => void run(), o.every)
  ;(timer as { unref?: () => void } | null)?.unref?.()
  void run()
  return { run, stop: () => o.clock.clearInterval(timer) }
}
