/** A small sorted set of inclusive seq ranges (which seqs have been handed out for sending). */
export class RangeSet {
  private r: Array<[number, number]> = []

  constructor(init?: ReadonlyArray<readonly [number, number]>) {
    if (init) for (const [a, b] of init) this.add(a, b)
  }

  add(a: number, b: number): void {
    if (b < a) return
    const out: Array<[number, number]> = []
    let placed = false
    for (const cur of this.r) {
      if (cur[1] + 1 < a) out.push(cur)
      else if (b + 1 < cur[0]) {
        if (!placed) out.push([a, b])
        placed = true
        out.push(cur)
      } else {
        a = Math.min(a, cur[0])
        b = Math.max(b, cur[1])
      }
    }
    if (!placed) out.push([a, b])
    this.r = out
  }

  has(seq: number): boolean {
    for (const [a, b] of this.r) {
      if (seq < a) return false
      if (seq <= b) return true
    }
    return false
  }

  /** forget ranges wholly below `seq` (those records are gone) */
  pruneBelow(seq: number): boolean {
    const before = this.r.length
    this.r = this.r.filter(([, b]) => b >= seq)
    return this.r.length !== before
  }

  toJSON(): Array<[number, number]> {
    return this.r.map(([a, b]) => [a, b])
  }
}
