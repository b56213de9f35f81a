import type { Reading } from '@fogline/protocol'
import { Duration } from '@fogline/protocol'
import { z } from 'zod'
import { perSensorStage } from './per-sensor.js'

export const SwingingDoorConfig = z.strictObject({
  type: z.literal('swinging-door'),
  /** compression deviation: the kept points reconstruct every dropped one within ±deviation by linear interpolation */
  deviation: z.number().positive(),
  /** keep at least one point per this long, by reading time */
  maxInterval: Duration.optional(),
})
export type SwingingDoorConfig = z.output<typeof SwingingDoorConfig>

interface Door {
  key: string[]
  /** last archived (kept) point */
  ta: number
  va: number
  /** newest point seen since, not yet archived */
  has: boolean
  tl: number
  vl: number
  /** the door slopes: min of upper, max of lower */
  up: number
  lo: number
  /** the reading handed downstream when a point is archived (reused: valid until the next process call) */
  out: Reading
}

/** snapshot row: key, out's sensorId and metric, ta, va, has, tl, vl, up, lo (±Infinity as 'inf'/'-inf') */
type DoorRow = [
  string[],
  string,
  string,
  number,
  number,
  number,
  number,
  number,
  number | string,
  number | string,
]

const enc = (v: number) => (Number.isFinite(v) ? v : v > 0 ? 'inf' : '-inf')
const dec = (v: number | string) =>
  v === 'inf' ? Number.POSITIVE_INFINITY : v === '-inf' ? Number.NEGATIVE_INFINITY : (v as number)

function openDoor(key: string[], r: Reading): Door {
  const out: Reading = { sensorId: r.sensorId, metric: r.metric, value: 0, ts: 0 }
  const inf = Number.POSITIVE_INFINITY
  return { key, ta: r.ts, va: r.value, has: false, tl: 0, vl: 0, up: inf, lo: -inf, out }
}

/** The door opened at `r`: archive the previous point into `s.out` and restart the door from it. */
function archive(s: Door, r: Reading, dev: number): void {
  s.out.sensorId = r.sensorId
  s.out.metric = r.metric
  // keep the sample itself unless a line to it would miss an earlier point by more than the deviation;
  // then the nearest value that keeps them all (still within ±deviation of the sample)
  const dtl = s.tl - s.ta
  const slope = Math.min(s.up, Math.max(s.lo, (s.vl - s.va) / dtl))
  const kept = slope === (s.vl - s.va) / dtl ? s.vl : s.va + slope * dtl
  s.out.value = kept
  s.out.ts = s.tl
  s.ta = s.tl
  s.va = kept
  const dt2 = r.ts - s.ta
  s.up = dt2 > 0 ? (r.value + dev - s.va) / dt2 : Number.POSITIVE_INFINITY
  s.lo = dt2 > 0 ? (r.value - dev - s.va) / dt2 : Number.NEGATIVE_INFINITY
  s.tl = r.ts
  s.vl = r.value
}

/**
 * Swinging-door trending (Bristol 1990), the process historians' compression: a point is archived only when
 * no straight line from the last archived point stays within ±deviation of every point since. The archived
 * point is the one before the reading that opened the door, so output lags by one point; readings with a
 * ts not after the last archived one are dropped. Guarantee: linear interpolation between kept points is
 * within ±deviation of every dropped point (a kept value is its sample's, moved by ≤ deviation only when
 * the sample itself would break that bound for an earlier point).
 */
export const swingingDoor = perSensorStage({
  name: 'swinging-door',
  schema: SwingingDoorConfig,
  create(c) {
    const dev = c.deviation
    const maxInt = c.maxInterval ?? Number.POSITIVE_INFINITY
    return {
      open: (key, r): Door => openDoor(key, r), // the first point is always kept
      step(s, r) {
        if (r.ts <= s.ta || (s.has && r.ts < s.tl)) return undefined
        const dt = r.ts - s.ta
        const up = Math.min(s.up, (r.value + dev - s.va) / dt)
        const lo = Math.max(s.lo, (r.value - dev - s.va) / dt)
        if (s.has && (lo > up || r.ts - s.ta > maxInt)) {
          archive(s, r, dev)
          return s.out
        }
        s.up = up
        s.lo = lo
        s.has = true
        s.tl = r.ts
        s.vl = r.value
        return undefined
      },
      save: (s): DoorRow => [
        s.key,
        s.out.sensorId,
        s.out.metric,
        s.ta,
        s.va,
        s.has ? 1 : 0,
        s.tl,
        s.vl,
        enc(s.up),
        enc(s.lo),
      ],
      load: ([key, sensorId, metric, ta, va, has, tl, vl, up, lo]) => ({
        key,
        ta,
        va,
        has: has === 1,
        tl,
        vl,
        up: dec(up),
        lo: dec(lo),
        out: { sensorId, metric, value: 0, ts: 0 },
      }),
    }
  },
})
