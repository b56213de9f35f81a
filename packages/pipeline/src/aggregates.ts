import { DDSketch } from './sketch.js'

/** Aggregates a window can report. count/min/max/mean/sum are always in a Summary; the others go to `aggs`. */
export const BASE_AGGREGATES = ['count', 'min', 'max', 'mean', 'sum'] as const
export const EXTRA_AGGREGATES = [
  'stddev',
  'variance',
  'first',
  'last',
  'rate',
  'p50',
  'p90',
  'p95',
  'p99',
] as const
export const AGGREGATE_PATTERN = /^(count|min|max|mean|sum|stddev|variance|first|last|rate|p\d{1,2}(\.\d+)?)$/

/**
 * Running aggregates of one window: O(1) memory without percentiles (Welford's update for variance,
 * which stays accurate where the textbook sum-of-squares cancels), plus a DDSketch when a percentile is asked for.
 */
export class Agg {
  count = 0
  sum = 0
  min = 0
  max = 0
  /** Welford running mean and sum of squared deviations */
  wmean = 0
  m2 = 0
  first = 0
  last = 0
  firstTs = 0
  lastTs = 0
  sketch: DDSketch | undefined

  constructor(alpha: number | undefined) {
    if (alpha !== undefined) this.sketch = new DDSketch(alpha)
  }

  add(v: number, ts: number): void {
    if (this.count === 0) {
      this.min = this.max = this.first = v
      this.firstTs = ts
    } else {
      if (v < this.min) this.min = v
      if (v > this.max) this.max = v
    }
    this.count++
    this.sum += v
    const d = v - this.wmean
    this.wmean += d / this.count
    this.m2 += d * (v - this.wmean)
    this.last = v
    this.lastTs = ts
    this.sketch?.add(v)
  }

  /** population variance (divides by n) */
  variance(): number {
    return this.count > 0 ? this.m2 / this.count : 0
  }

  /** change per second between the first and the last reading; 0 for one reading */
  rate(): number {
    const dt = this.lastTs - this.firstTs
    return dt > 0 ? ((this.last - this.first) * 1000) / dt : 0
  }

  get(name: string): number {
    switch (name) {
      case 'count':
        return this.count
      case 'sum':
        return this.sum
      case 'min':
        return this.min
      case 'max':
        return this.max
      case 'mean':
        return this.sum / this.count
      case 'variance':
        return this.variance()
      case 'stddev':
        return Math.sqrt(this.variance())
      case 'first':
        return this.first
      case 'last':
        return this.last
      case 'rate':
        return this.rate()
      default: {
        // pNN: clamped to [min, max], which only moves the estimate toward the true value
        const q = Number(name.slice(1)) / 100
        const v = this.sketch ? this.sketch.quantile(q) : Number.NaN
        return Math.max(this.min, Math.min(v, this.max))
      }
    }
  }

  reset(): void {
    this.count = this.sum = this.min = this.max = this.wmean = this.m2 = 0
    this.first = this.last = this.firstTs = this.lastTs = 0
    this.sketch?.reset()
  }

  toJSON(): unknown[] {
    const s: unknown[] = [
      this.count,
      this.sum,
      this.min,
      this.max,
      this.wmean,
      this.m2,
      this.first,
      this.last,
      this.firstTs,
      this.lastTs,
    ]
    if (this.sketch) s.push(this.sketch.toJSON())
    return s
  }

  static fromJSON(alpha: number | undefined, s: unknown): Agg {
    const a = new Agg(undefined)
    const v = s as number[]
    ;[a.count, a.sum, a.min, a.max, a.wmean, a.m2, a.first, a.last, a.firstTs, a.lastTs] = v as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ]
    if (alpha !== undefined)
      a.sketch = v[10] !== undefined ? DDSketch.fromJSON(alpha, v[10]) : new DDSketch(alpha)
    return a
  }
}
