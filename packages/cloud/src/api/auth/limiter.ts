import type { Clock } from '@fogline/protocol'

/**
 * Failed-attempt limiter per client: a token bucket (`burst` failures, refilled at `perMinute`) read through the
 * Clock, so tests step time. Only failures take from the bucket; an empty bucket refuses the client's
 * attempts until it refills. Written here rather than @fastify/rate-limit because that one counts every
 * request (not failures) and keeps its own timers.
 * @example const lim = new FailLimiter(clock); if (lim.blocked(ip)) throw 429; … lim.fail(ip)
 */
export class FailLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  constructor(
    private readonly clock: Clock,
    private readonly burst = 10,
    private readonly perMinute = 10,
    private readonly maxClients = 10_000,
  ) {}

  private level(key: string): { tokens: number; at: number } {
    const now = this.clock.now()
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.perMinute) / 60_000)
    b.at = now
    return b
  }

  /** true while the client has no failures left */
  blocked(key: string): boolean {
    return this.buckets.has(key) && this.level(key).tokens < 1
  }

  /** count one failed attempt */
  fail(key: string): void {
    const b = this.level(key)
    b.tokens = Math.max(0, b.tokens - 1)
    this.buckets.delete(key) // re-insert: the Map's order is then least recently failed first
    this.buckets.set(key, b)
    if (this.buckets.size > this.maxClients) {
      const oldest = this.buckets.keys().next().value
      if (oldest !== undefined) this.buckets.delete(oldest)
    }
  }
}
