import type { Clock } from '@fogline/protocol'

/** The broker's limits; each hit is counted and logged, and only the offender is throttled or disconnected. */
export interface BrokerLimits {
  /** clients connected at once; past it a CONNECT gets CONNACK 3 (server unavailable) */
  maxConnections: number
  /** publishes per second per client (token bucket, burst = one second's worth); past it the client is throttled */
  publishRate: number
  /** publish payload bytes per second per client (token bucket, burst = one second's worth) */
  publishBytesPerSec: number
  /** topic or filter length in bytes; longer: disconnected (publish) or SUBACK 0x80 (subscribe) */
  maxTopicLength: number
  /** topic or filter levels; more: as maxTopicLength */
  maxTopicLevels: number
  /** inbound QoS 2 messages awaiting PUBREL per client; past it the client is disconnected */
  maxInflight: number
  /** ms from the TCP/TLS accept to a CONNECT; past it the connection is closed */
  connectTimeout: number
}

export const DEFAULT_LIMITS: BrokerLimits = Object.freeze({
  maxConnections: 1000,
  publishRate: 1000,
  publishBytesPerSec: 1024 * 1024,
  maxTopicLength: 256,
  maxTopicLevels: 16,
  maxInflight: 100,
  connectTimeout: 10_000,
})

export type LimitName =
  | 'maxConnections'
  | 'publishRate'
  | 'publishBytesPerSec'
  | 'maxTopicLength'
  | 'maxTopicLevels'
  | 'maxInflight'
  | 'connectTimeout'

/**
 * A token bucket on the injected clock: `take(n)` returns 0 when n tokens were there, else the ms until they
 * will be (the tokens are taken all the same, so the debt throttles the next calls too).
 */
export class TokenBucket {
  private tokens: number
  private at: number

  constructor(
    private readonly perSec: number,
    private readonly clock: Clock,
    private readonly burst = perSec,
  ) {
    this.tokens = burst
    this.at = clock.now()
  }

  take(n: number): number {
    const now = this.clock.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.perSec) / 1000)
    this.at = now
    this.tokens -= n
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.perSec)
  }
}

/** Says yes at most once per `everyMs` per key: "logged once per client per minute". */
export class LogOnce {
  private readonly last = new Map<string, number>()

  constructor(
    private readonly clock: Clock,
    private readonly everyMs = 60_000,
  ) {}

  due(key: string): boolean {
    const now = this.clock.now()
    const t = this.last.get(key)
    if (t !== undefined && now - t < this.everyMs) return false
    // bounded: old keys go when the map grows, so a client-id flood cannot grow it without end
    if (this.last.size > 10_000)
      for (const [k, v] of this.last) if (now - v >= this.everyMs) this.last.delete(k)
    this.last.set(key, now)
    return true
  }
}

/** Levels of a topic or filter (`a/b/c` → 3). */
export function topicLevels(topic: string): number {
  let n = 1
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 47) n++
  return n
}
