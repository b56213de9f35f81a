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
    this.tokens = refillTokens(this.tokens, now - this.at, this.perSec, this.burst) - n
    this.at = now
    return tokenDebtMs(this.tokens, this.perSec)
  }
}

/** A token bucket's level after `ms` at `perSec`, capped at `burst` (TokenBucket, and the session's buckets). */
export const refillTokens = (tokens: number, ms: number, perSec: number, burst: number): number =>
  Math.min(burst, tokens + (ms * perSec) / 1000)

/** 0 while the level is not negative, else the ms until it is back at 0. */
export const tokenDebtMs = (tokens: number, perSec: number): number =>
  tokens >= 0 ? 0 : Math.ceil((-tokens * 1000) / perSec)

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
