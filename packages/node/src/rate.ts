import type { Clock } from '@fogline/protocol'

/** Events per second over the last few seconds, in fixed one-second buckets (no allocation per event). */
export class RateMeter {
  private readonly buckets = new Float64Array(5)
  private current = 0
  private currentSec: number

  constructor(private readonly clock: Clock) {
    this.currentSec = Math.floor(clock.now() / 1000)
  }

  private roll(): void {
    const sec = Math.floor(this.clock.now() / 1000)
    const steps = Math.min(sec - this.currentSec, this.buckets.length)
    for (let i = 0; i < steps; i++) {
      this.current = (this.current + 1) % this.buckets.length
      this.buckets[this.current] = 0
    }
    if (steps > 0) this.currentSec = sec
  }

  add(n: number): void {
    this.roll()
    this.buckets[this.current]! += n
  }

  /** mean over the completed buckets (the current, partial second is left out) */
  perSecond(): number {
    this.roll()
    let sum = 0
    for (let i = 0; i < this.buckets.length; i++) if (i !== this.current) sum += this.buckets[i]!
    return sum / (this.buckets.length - 1)
  }
}
