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
 * A token bucket of `perSec` tokens a second, `burst` at most, kept as two doubles of `state` from index i:
 * the tokens, then when they were counted. Takes n tokens; returns 0 when they were there, else the ms until
 * they will be (they are taken all the same, so the debt throttles the next calls too). The state
 * is a plain array of doubles so that a holder of several buckets keeps them unboxed in one place (the broker's
 * sessions: docs/decisions.md, "The same, on the broker's side").
 */
export function takeTokens(
  state: number[],
  i: number,
  perSec: number,
  burst: number,
  now: number,
  n: number,
): number {
  const tokens = Math.min(burst, state[i]! + ((now - state[i + 1]!) * perSec) / 1000) - n
  state[i] = tokens
  state[i + 1] = now
  return tokens >= 0 ? 0 : Math.ceil((-tokens * 1000) / perSec)
}

/** One token bucket on its own, on the injected clock (takeTokens). */
export class TokenBucket {
  private readonly state: number[]

  constructor(
    private readonly perSec: number,
    private readonly clock: Clock,
    private readonly burst = perSec,
  ) {
    this.state = [burst, clock.now()]
  }

  take(n: number): number {
    return takeTokens(this.state, 0, this.perSec, this.burst, this.clock.now(), n)
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
