import type { Clock } from '@fogline/protocol'

/**
 * Whether an ack's ranges name only seqs of the batch (`seqs`, as sent). An ack that also names other seqs
 * is not this batch's: applying it would delete records the cloud never confirmed.
 */
export function ackFits(seqs: readonly number[], ranges: ReadonlyArray<readonly [number, number]>): boolean {
  if (seqs.length === 0) return ranges.length === 0
  const have = new Set(seqs)
  for (const [a, b] of ranges) {
    if (!(Number.isSafeInteger(a) && Number.isSafeInteger(b)) || b < a || b - a + 1 > seqs.length)
      return false
    for (let q = a; q <= b; q++) if (!have.has(q)) return false
  }
  return true
}

/** Says yes at most once per `everyMs` per key (a flood of forged acks must not flood the log). */
export class LogEvery {
  private readonly last = new Map<string, number>()

  constructor(
    private readonly clock: Clock,
    private readonly everyMs: number,
  ) {}

  due(key: string): boolean {
    const now = this.clock.now()
    const t = this.last.get(key)
    if (t !== undefined && now - t < this.everyMs) return false
    if (this.last.size > 1000) this.last.clear()
    this.last.set(key, now)
    return true
  }
}
