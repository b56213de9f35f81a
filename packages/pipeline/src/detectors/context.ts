import type { AnomalyModel } from '@fogline/protocol'
import { Blocks } from './blocks.js'
import type { Detector, DetectorDef } from './types.js'

type ContextModel = Extract<AnomalyModel, { kind: 'context' }>

/** 2^16 bits (8 KiB) of "this context was seen": only seen/unseen matters for the score, so a bitset, not counts. */
const TABLE_BITS = 16
const TABLE_MASK = (1 << TABLE_BITS) - 1
/** grids: two, offset by half a bin, so a value wobbling on one grid's bin edge is still known on the other */
const OFFSETS = [0, 0.5] as const
/** a value beyond every value seen adds up to this much (fully at 10 % of the range past it) */
const EXTREME_WEIGHT = 0.5
const EXTREME_SCALE = 10
/** a block-to-block step past every step seen adds as much, fully at 20 % past the largest step */
const STEP_SCALE = 5
/** a repeated alarm inside the quiet period is reported at this fraction of its score */
const REPEAT_FACTOR = 0.5
/** the series' own novelty rate (EWMA over ~1,000 readings) sets the bar: novelty − 2 × rate counts */
const RATE_ALPHA = 0.001
const RATE_WEIGHT = 2
/** identical consecutive readings: how fast the usual repeat rate is learned, and the run that scores 1 */
const REPEAT_ALPHA = 0.01
const STUCK_RUN = 5

/**
 * Contextual novelty (CAD OSE family) on two time scales. Each reading is quantised on two grids spanning the
 * learned range; for each grid the contexts ending at this reading (the last 1 … `length` bins) are hashed
 * into a bitset of contexts seen. The raw score is the share of those contexts never seen before, shorter
 * contexts weighing more (weight 1/len: a new single value is stronger evidence than a new 6-reading
 * sequence), less twice the series' own recent novelty rate (a noisy series must be newer to count). The slow
 * channel does the same on the median of each block of `block` readings (contexts of `length` blocks: the
 * shape of the last `length × block` readings, as ARTime looks at a downsampled window), scored when a block
 * completes; the score takes the larger of the two novelties. To it add a term for a value beyond every value
 * seen, or a block-to-block step beyond every step seen (a faster cycle, a sudden swing inside the range),
 * and one for a run of identical readings where repeats are rare (stuck). A score is reported in full only
 * when it beats every raw score of the last `quiet` readings, so a lasting anomaly raises one alarm, not one
 * per reading.
 */
class Context implements Detector {
  n = 0
  lo = 0
  hi = 0
  seenLo = 0
  seenHi = 0
  expected = 0
  low = 0
  high = 0
  /** last `length` bins per grid, newest first */
  bins: Int32Array
  table = new Uint32Array(1 << (TABLE_BITS - 5))
  recent: Float64Array
  pos = 0
  /** EWMA of the raw novelty: a noisy series makes new contexts all the time, a clean one rarely */
  rate = 0
  /** the slow channel (block medians), and how far the last block's step went past every step */
  slowCh: Blocks
  steep = 0
  prev = 0
  /** identical readings in a row, and the EWMA of how often a reading repeats the previous one */
  run = 0
  repeats = 0

  constructor(private m: ContextModel) {
    this.bins = new Int32Array(OFFSETS.length * m.length)
    this.slowCh = new Blocks(m.block, OFFSETS.length * m.length)
    this.recent = new Float64Array(Math.max(1, m.quiet))
    if (m.low !== undefined && m.high !== undefined) this.setRange(m.low, m.high, m.warmup)
  }

  get learning(): boolean {
    return this.n < this.m.probation
  }

  private setRange(lo: number, hi: number, n: number): void {
    this.lo = this.seenLo = lo
    this.hi = this.seenHi = hi
    // the next reading is the range's last: it may widen it, and its contexts start the table
    this.n = Math.max(this.n, n - 1, 1)
  }

  update(x: number): number {
    const m = this.m
    this.expected = this.n === 0 ? x : this.expected
    this.low = this.seenLo
    this.high = this.seenHi
    if (this.n < m.warmup) {
      // learning the range: the grid is fixed once set, so contexts learned later stay comparable
      if (this.n === 0 || x < this.lo) this.lo = x
      if (this.n === 0 || x > this.hi) this.hi = x
      this.seenLo = this.lo
      this.seenHi = this.hi
      this.prev = x
      this.n++
      // the block steps are learned from the start: the warm-up shows how fast the series moves
      const median = this.slowCh.push(x)
      if (median !== undefined) this.slowCh.slope(median, false)
      if (this.n === m.warmup) this.novelty(this.bins, x, 0, 1)
      return this.report(0, x)
    }
    this.n++
    const raw = this.novelty(this.bins, x, 0, this.n - m.warmup + 1)
    const novel = Math.max(0, raw - RATE_WEIGHT * this.rate)
    this.rate += RATE_ALPHA * (raw - this.rate)
    const slow = this.slow(x)
    const span = Math.max(this.seenHi - this.seenLo, 1e-12)
    const beyond = x > this.seenHi ? (x - this.seenHi) / span : x < this.seenLo ? (this.seenLo - x) / span : 0
    if (x > this.seenHi) this.seenHi = x
    if (x < this.seenLo) this.seenLo = x
    const far = Math.max(beyond * EXTREME_SCALE, this.steep * STEP_SCALE)
    const extreme = EXTREME_WEIGHT * Math.min(1, far)
    return this.report(Math.min(1, Math.max(novel, slow) + extreme + this.stuck(x)), x)
  }

  /**
   * The slow channel's novelty when this reading completes a block (else 0); sets `steep`, how far the
   * block's step went past every step seen (a field, not a returned pair: no object per reading).
   */
  private slow(x: number): number {
    const c = this.slowCh
    const median = c.push(x)
    this.steep = 0
    if (median === undefined) return 0
    // the step is scored once the steps of `warmup` readings are known (a trained range skips the warm-up)
    this.steep = c.slope(median, c.done * c.size >= this.m.warmup)
    const raw = this.novelty(c.bins, median, SLOW_SEED, ++c.scored)
    const slow = Math.max(0, raw - RATE_WEIGHT * c.rate)
    // the same ~1,000-reading memory as the fast channel, counted in blocks
    c.rate += Math.min(1, RATE_ALPHA * c.size) * (raw - c.rate)
    return slow
  }

  /** a stuck sensor: a run of identical readings where a reading seldom repeats the previous one */
  private stuck(x: number): number {
    const same = x === this.prev ? 1 : 0
    this.run = same === 1 ? this.run + 1 : 0
    this.prev = x
    const usual = this.repeats
    this.repeats += REPEAT_ALPHA * (same - this.repeats)
    return this.run < 2 ? 0 : (1 - usual) ** 2 * Math.min(1, this.run / STUCK_RUN)
  }

  /** share of the contexts ending at `x` (weighted 1/len) never seen before; marks them seen */
  private novelty(b: Int32Array, x: number, seed: number, have: number): number {
    const L = this.m.length
    const width = Math.max(this.hi - this.lo, 1e-12) / this.m.levels
    let novel = 0
    let total = 0
    for (let g = 0; g < OFFSETS.length; g++) {
      const base = g * L
      for (let k = base + L - 1; k > base; k--) b[k] = b[k - 1]!
      b[base] = Math.floor((x - this.lo) / width + OFFSETS[g]!)
      // FNV-1a style over the bins, newest first: each prefix length is its own context
      let h = (0x811c9dc5 ^ Math.imul(g + 1 + seed, 0x27d4eb2d)) >>> 0
      const avail = Math.min(L, have)
      for (let len = 1; len <= avail; len++) {
        h = Math.imul(h ^ (b[base + len - 1]! + 0x3779b9), 16777619) >>> 0
        const i = (h ^ (h >>> 15)) & TABLE_MASK
        const word = i >>> 5
        const bit = 1 << (i & 31)
        const w = 1 / len
        total += w
        if ((this.table[word]! & bit) === 0) {
          novel += w
          this.table[word] = this.table[word]! | bit
        }
      }
    }
    return total > 0 ? novel / total : 0
  }

  /** suppression: full score only when it beats every raw score of the quiet period */
  private report(s: number, x: number): number {
    const r = this.recent
    let h = 0
    for (let i = 0; i < r.length; i++) if (r[i]! > h) h = r[i]!
    r[this.pos] = s
    this.pos = (this.pos + 1) % r.length
    this.expected = x
    return s > h || this.m.quiet === 0 ? s : s * REPEAT_FACTOR
  }

  snapshot(): unknown {
    const { n, lo, hi, seenLo, seenHi, expected, pos, rate, prev, run, repeats } = this
    return {
      rate,
      prev,
      run,
      repeats,
      n,
      lo,
      hi,
      seenLo,
      seenHi,
      expected,
      pos,
      bins: [...this.bins],
      slow: this.slowCh.snapshot(),
      recent: [...this.recent],
      table: Buffer.from(this.table.buffer, this.table.byteOffset, this.table.byteLength).toString('base64'),
    }
  }

  restore(state: unknown): void {
    const s = state as ReturnType<Context['snapshot']> & Record<string, any>
    Object.assign(this, { n: s.n, lo: s.lo, hi: s.hi, seenLo: s.seenLo, seenHi: s.seenHi })
    Object.assign(this, { rate: s.rate, prev: s.prev, run: s.run, repeats: s.repeats })
    // a snapshot from before the slow channel: that channel starts afresh
    this.slowCh.restore(s.slow)
    this.expected = s.expected
    this.pos = s.pos % this.recent.length
    this.bins.set((s.bins as number[]).slice(0, this.bins.length))
    this.recent.set((s.recent as number[]).slice(0, this.recent.length))
    const t = Buffer.from(s.table as string, 'base64')
    this.table.set(new Uint32Array(t.buffer, t.byteOffset, Math.min(this.table.length, t.byteLength >>> 2)))
  }

  upgrade(m: AnomalyModel): boolean {
    // the learned contexts stay valid only on the same grid, context length and block
    if (m.kind !== 'context' || m.levels !== this.m.levels || m.length !== this.m.length) return false
    if (m.block !== this.m.block) return false
    if (m.quiet !== this.m.quiet) this.recent = resize(this.recent, Math.max(1, m.quiet))
    this.pos %= this.recent.length
    this.m = m
    return true
  }

  /** bytes of state: bitset, bins of both channels, the block, quiet-period ring and scalars */
  static bytes(m: ContextModel): number {
    const slow = m.block * 8 + OFFSETS.length * m.length * 4 + 6 * 8
    return (1 << (TABLE_BITS - 3)) + OFFSETS.length * m.length * 4 + slow + Math.max(1, m.quiet) * 8 + 12 * 8
  }
}

/** the slow channel's contexts share the bitset, hashed apart by their own seed */
const SLOW_SEED = 2

function resize(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n)
  b.set(a.subarray(0, n))
  return b
}

/** `context`: the default detector; learns on the node, needs nothing from the cloud but can take a range. */
export const context: DetectorDef<ContextModel> & { bytes(m: ContextModel): number } = {
  kind: 'context',
  create: (m) => new Context(m),
  bytes: Context.bytes,
}
