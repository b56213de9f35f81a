/**
 * The slow channel of the `context` detector: the series downsampled to one value per block of `size`
 * readings, the block's median (robust: a lone spike is the fast channel's business, the slow channel sees
 * the level and shape the spikes ride on), with the channel's own context bins and novelty rate.
 * Lifecycle: push(x) per reading → a median every `size` readings → slope(median) → snapshot/restore.
 */
export class Blocks {
  /** the current block's readings; sorted in place when it is full (no allocation per block) */
  readonly buf: Float64Array
  count = 0
  /** blocks completed, the previous median, and the largest step between consecutive medians seen */
  done = 0
  prev = 0
  maxStep = 0
  /** this channel's last `length` bins per grid (newest first), its novelty rate, and medians scored on the grid */
  readonly bins: Int32Array
  rate = 0
  scored = 0

  constructor(
    readonly size: number,
    bins: number,
  ) {
    this.buf = new Float64Array(size)
    this.bins = new Int32Array(bins)
  }

  /** add a reading; the block's median when this reading completes it, else undefined */
  push(x: number): number | undefined {
    this.buf[this.count++] = x
    if (this.count < this.size) return undefined
    this.count = 0
    const b = this.buf
    // insertion sort: 8 readings, once per block
    for (let i = 1; i < b.length; i++) {
      const v = b[i]!
      let j = i - 1
      for (; j >= 0 && b[j]! > v; j--) b[j + 1] = b[j]!
      b[j + 1] = v
    }
    const h = b.length >> 1
    return b.length % 2 === 1 ? b[h]! : (b[h - 1]! + b[h]!) / 2
  }

  /**
   * How far this median's step from the previous one goes past the largest step seen, as a share of that
   * step (0 when it does not); learns the step. `score` false: learn only (the detector's warm-up).
   */
  slope(v: number, score: boolean): number {
    const step = Math.abs(v - this.prev)
    const first = this.done++ === 0
    this.prev = v
    if (first) return 0
    const past = score && this.maxStep > 0 && step > this.maxStep ? (step - this.maxStep) / this.maxStep : 0
    if (step > this.maxStep) this.maxStep = step
    return past
  }

  snapshot() {
    const { count, done, prev, maxStep, rate, scored } = this
    return { count, done, prev, maxStep, rate, scored, buf: [...this.buf], bins: [...this.bins] }
  }

  restore(s: ReturnType<Blocks['snapshot']> | undefined): void {
    if (s === undefined) return
    Object.assign(this, { count: s.count % this.size, done: s.done, prev: s.prev, maxStep: s.maxStep })
    Object.assign(this, { rate: s.rate, scored: s.scored })
    this.buf.set(s.buf.slice(0, this.size))
    this.bins.set(s.bins.slice(0, this.bins.length))
  }
}
