import type { Clock } from './clock.js'

/**
 * Events per second over a sliding window, in one-second buckets (no allocation per event); on the injected
 * clock. The one rate meter: node readings/s, uplink acks/s.
 * @example const r = new RateWindow(clock, 5_000); r.add(1); r.perSecond()
 */
export class RateWindow {
  private readonly buckets: Float64Array
  private first = -1
  private lastSec = -1

  constructor(
    private readonly clock: Clock,
    windowMs: number,
  ) {
    this.buckets = new Float64Array(Math.max(1, Math.ceil(windowMs / 1000)))
  }

  private roll(sec: number): void {
    if (this.lastSec < 0) this.lastSec = sec
    const n = this.buckets.length
    for (let s = Math.max(this.lastSec + 1, sec - n + 1); s <= sec; s++) this.buckets[s % n] = 0
    if (sec > this.lastSec) this.lastSec = sec
  }

  /** `now`: the clock's time, when the caller has read it already */
  add(n: number, now: number = this.clock.now()): void {
    if (this.first < 0) this.first = now
    const sec = Math.floor(now / 1000)
    this.roll(sec)
    this.buckets[sec % this.buckets.length]! += n
  }

  perSecond(): number {
    const now = this.clock.now()
    this.roll(Math.floor(now / 1000))
    let sum = 0
    for (const v of this.buckets) sum += v
    if (this.first < 0) return 0
    // from the first event on, so an early estimate is not diluted by idle time before it
    const span = Math.min(this.buckets.length, Math.max(0.2, (now - this.first) / 1000))
    return sum / span
  }
}
