/**
 * DDSketch (Masson, Rim, Lee, VLDB 2019): a quantile sketch with a relative-error guarantee.
 * Values fall in logarithmic buckets (γ^(k-1), γ^k] with γ = (1+α)/(1-α); a quantile is answered with its
 * bucket's midpoint 2γ^k/(γ+1). Bound: for q in [0,1] the answer x̂ satisfies |x̂ − x| ≤ α·|x|, where x is the
 * element of 0-based rank ⌊q·(n−1)⌋ of the sorted input, for |x| ≥ 1e-9 (smaller values count as 0).
 * Chosen over t-digest because its bound is deterministic and its state is a few integer arrays that
 * round-trip through JSON exactly. The bound holds while one store spans ≤ MAX_BUCKETS buckets
 * (α = 1%: values across 17.8 decades; α = 0.1%: only 1.8); beyond that the lowest buckets are merged.
 */
const MIN_VALUE = 1e-9
const MAX_BUCKETS = 2048

class Store {
  counts: number[] = []
  offset = 0

  add(k: number): void {
    const c = this.counts
    if (c.length === 0) {
      this.offset = k
      c.push(1)
      return
    }
    let i = k - this.offset
    if (i < 0) {
      if (c.length - i > MAX_BUCKETS) {
        // collapse: count it in the lowest bucket (loses accuracy only at the low end)
        c[0]!++
        return
      }
      const pad = new Array<number>(-i).fill(0)
      this.counts = pad.concat(c)
      this.offset = k
      i = 0
      this.counts[0] = 1
      return
    }
    while (i >= c.length) c.push(0)
    c[i]!++
    if (c.length > MAX_BUCKETS) {
      const drop = c.length - MAX_BUCKETS
      let sum = 0
      for (let j = 0; j <= drop; j++) sum += c[j]!
      this.counts = c.slice(drop)
      this.counts[0] = sum
      this.offset += drop
    }
  }
}

export class DDSketch {
  readonly alpha: number
  private readonly gamma: number
  private readonly lnGamma: number
  private readonly pos = new Store()
  private readonly neg = new Store()
  zero = 0
  count = 0

  constructor(alpha = 0.01) {
    this.alpha = alpha
    this.gamma = (1 + alpha) / (1 - alpha)
    this.lnGamma = Math.log(this.gamma)
  }

  add(x: number): void {
    this.count++
    if (x > MIN_VALUE) this.pos.add(Math.ceil(Math.log(x) / this.lnGamma))
    else if (x < -MIN_VALUE) this.neg.add(Math.ceil(Math.log(-x) / this.lnGamma))
    else this.zero++
  }

  /** q in [0,1]; NaN when empty */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN
    const rank = Math.floor(q * (this.count - 1))
    let seen = 0
    const nc = this.neg.counts
    for (let i = nc.length - 1; i >= 0; i--) {
      seen += nc[i]!
      if (seen > rank) return -this.value(i + this.neg.offset)
    }
    seen += this.zero
    if (seen > rank) return 0
    const pc = this.pos.counts
    for (let i = 0; i < pc.length; i++) {
      seen += pc[i]!
      if (seen > rank) return this.value(i + this.pos.offset)
    }
    return this.value(pc.length - 1 + this.pos.offset)
  }

  private value(k: number): number {
    return (2 * this.gamma ** k) / (this.gamma + 1)
  }

  reset(): void {
    this.pos.counts = []
    this.neg.counts = []
    this.pos.offset = this.neg.offset = 0
    this.zero = this.count = 0
  }

  toJSON(): [number, number, number, number[], number, number[]] {
    return [this.zero, this.count, this.pos.offset, this.pos.counts, this.neg.offset, this.neg.counts]
  }

  static fromJSON(alpha: number, s: unknown): DDSketch {
    const d = new DDSketch(alpha)
    const [zero, count, po, pc, no, nc] = s as [number, number, number, number[], number, number[]]
    d.zero = zero
    d.count = count
    d.pos.offset = po
    d.pos.counts = pc.slice()
    d.neg.offset = no
    d.neg.counts = nc.slice()
    return d
  }
}
