import type { Clock } from '@fogline/protocol'

/** One look at the outbox and the disk. */
export interface BacklogSample {
  records: number
  bytes: number
  /** free bytes on the outbox's file system, null when unknown */
  diskFreeBytes: number | null
}

/** The prediction: when the outbox reaches its capacity at the current trend. */
export interface Prediction {
  /** epoch ms, null when the backlog is not growing (or there are too few samples) */
  fullAt: number | null
  /** which limit is hit first */
  limit: 'capacityBytes' | 'capacityRecords' | 'disk' | null
  /** bytes per second the backlog grows by (least squares over the trend span) */
  bytesPerSec: number
  recordsPerSec: number
}

export interface PredictorOptions {
  clock: Clock
  capacityBytes: number
  capacityRecords: number
  /** warn when full is predicted within this many ms */
  warnAhead: number
  /** samples older than this are forgotten */
  trendOver: number
  /** the outbox file also needs room for its WAL and free pages: disk counts at this fraction; default 0.5 */
  diskShare?: number
  /** called once when the prediction falls within warnAhead (again only after it cleared) */
  onWarn(p: Prediction & { fullAt: number }): void
}

// slope of y over t (per ms) by least squares; 0 with fewer than 3 samples
function slope(ts: number[], ys: number[]): number {
  const n = ts.length
  if (n < 3) return 0
  let mt = 0
  let my = 0
  for (let i = 0; i < n; i++) {
    mt += ts[i]!
    my += ys[i]!
  }
  mt /= n
  my /= n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (ts[i]! - mt) * (ys[i]! - my)
    den += (ts[i]! - mt) ** 2
  }
  return den === 0 ? 0 : num / den
}

/**
 * Predicts when the outbox reaches capacity from its growth over the last `trendOver`, its capacity and
 * the free disk, and warns `warnAhead` before: the outbox degrades (drops raw records first) only when
 * full, so the warning comes before the first drop. Lifecycle: create → sample()* → current().
 * @example const p = createPredictor({ clock, capacityBytes, capacityRecords, warnAhead: 3600_000, trendOver: 600_000, onWarn })
 */
export function createPredictor(o: PredictorOptions) {
  const ts: number[] = []
  const bytes: number[] = []
  const records: number[] = []
  let last: Prediction = { fullAt: null, limit: null, bytesPerSec: 0, recordsPerSec: 0 }
  let warned = false
  return {
    /** add a sample now and recompute */
    sample(s: BacklogSample): Prediction {
      const now = o.clock.now()
      ts.push(now)
      bytes.push(s.bytes)
      records.push(s.records)
      while (ts.length > 0 && now - ts[0]! > o.trendOver) {
        ts.shift()
        bytes.shift()
        records.shift()
      }
      const bps = slope(ts, bytes)
      const rps = slope(ts, records)
      const candidates: Array<[number, Prediction['limit']]> = []
      if (bps > 0) {
        candidates.push([(o.capacityBytes - s.bytes) / bps, 'capacityBytes'])
        if (s.diskFreeBytes !== null)
          candidates.push([(s.diskFreeBytes * (o.diskShare ?? 0.5)) / bps, 'disk'])
      }
      if (rps > 0) candidates.push([(o.capacityRecords - s.records) / rps, 'capacityRecords'])
      let best: [number, Prediction['limit']] | null = null
      for (const c of candidates) if (!best || c[0] < best[0]) best = c
      last = {
        fullAt: best ? now + Math.max(0, best[0]) : null,
        limit: best ? best[1] : null,
        bytesPerSec: bps * 1000,
        recordsPerSec: rps * 1000,
      }
      const soon = last.fullAt !== null && last.fullAt - now <= o.warnAhead
      if (soon && !warned) {
        warned = true
        o.onWarn(last as Prediction & { fullAt: number })
      }
      // re-armed only once well clear (hysteresis: a noisy trend must not warn every sample)
      if (warned && (last.fullAt === null || last.fullAt - now > 2 * o.warnAhead)) warned = false
      return last
    },
    current: (): Prediction => ({ ...last }),
  }
}

export type Predictor = ReturnType<typeof createPredictor>
