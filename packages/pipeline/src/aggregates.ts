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

/** slots of an Agg's array: its 10 running values, then the window's bounds */
const COUNT = 0
const SUM = 1
const MIN = 2
const MAX = 3
const WMEAN = 4
const M2 = 5
const FIRST = 6
const LAST = 7
const FIRST_TS = 8
const LAST_TS = 9
const START = 10
const END = 11
/** what toJSON writes and load reads: the running values, not the bounds (the window stage saves those) */
const SAVED = 10

/**
 * Running aggregates of one window [start, end): O(1) memory without percentiles (Welford's update for
 * variance, which stays accurate where the textbook sum-of-squares cancels), plus a DDSketch when a percentile
 * is asked for. The numbers live in one array of doubles: as 12 object fields each would be a boxed double
 * (docs/decisions.md, "A sensor's pipeline state holds no boxed numbers").
 */
export class Agg {
  /** doubles unboxed in the array's own store: V8 keeps a number array of doubles that way (on the heap; a
   * Float64Array of 96 B would need an ArrayBuffer and native memory) */
  private readonly v: number[] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
  sketch: DDSketch | undefined

  constructor(alpha: number | undefined, start = 0, end = 0) {
    if (alpha !== undefined) this.sketch = new DDSketch(alpha)
    this.v[START] = start
    this.v[END] = end
  }

  get count(): number {
    return this.v[COUNT]!
  }
  get sum(): number {
    return this.v[SUM]!
  }
  get min(): number {
    return this.v[MIN]!
  }
  get max(): number {
    return this.v[MAX]!
  }
  get first(): number {
    return this.v[FIRST]!
  }
  get last(): number {
    return this.v[LAST]!
  }
  get lastTs(): number {
    return this.v[LAST_TS]!
  }
  get start(): number {
    return this.v[START]!
  }
  get end(): number {
    return this.v[END]!
  }
  set end(t: number) {
    this.v[END] = t
  }

  add(x: number, ts: number): void {
    const v = this.v
    const n = v[COUNT]! + 1
    if (n === 1) {
      v[MIN] = v[MAX] = v[FIRST] = x
      v[FIRST_TS] = ts
    } else {
      if (x < v[MIN]!) v[MIN] = x
      if (x > v[MAX]!) v[MAX] = x
    }
    v[COUNT] = n
    v[SUM]! += x
    const d = x - v[WMEAN]!
    v[WMEAN]! += d / n
    v[M2]! += d * (x - v[WMEAN]!)
    v[LAST] = x
    v[LAST_TS] = ts
    this.sketch?.add(x)
  }

  /** population variance (divides by n) */
  variance(): number {
    const v = this.v
    return v[COUNT]! > 0 ? v[M2]! / v[COUNT]! : 0
  }

  /** change per second between the first and the last reading; 0 for one reading */
  rate(): number {
    const v = this.v
    const dt = v[LAST_TS]! - v[FIRST_TS]!
    return dt > 0 ? ((v[LAST]! - v[FIRST]!) * 1000) / dt : 0
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

  /** [count, sum, min, max, wmean, m2, first, last, firstTs, lastTs, sketch?]: the checkpoint format */
  toJSON(): unknown[] {
    const s: unknown[] = this.v.slice(0, SAVED)
    if (this.sketch) s.push(this.sketch.toJSON())
    return s
  }

  /** The running values (and sketch) from `toJSON`'s format, as a checkpoint holds them; returns this. */
  load(alpha: number | undefined, s: unknown): this {
    const v = s as number[]
    for (let i = 0; i < SAVED; i++) this.v[i] = v[i] ?? 0
    if (alpha !== undefined)
      this.sketch = v[SAVED] !== undefined ? DDSketch.fromJSON(alpha, v[SAVED]) : new DDSketch(alpha)
    return this
  }
}
