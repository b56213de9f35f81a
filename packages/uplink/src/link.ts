import { type Clock, type ErrorData, FoglineError, systemClock, type UplinkConfig } from '@fogline/protocol'
import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleAll,
  type IBackoff,
} from 'cockatiel'
import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { ReachProbe } from './reach.js'
import type { UplinkLogger } from './types.js'

export interface LinkEvents {
  connected(client: MqttClient, url: string): void
  disconnected(reason: string): void
  message(topic: string, payload: Buffer): void
}

export interface LinkOptions {
  clientId: string
  config: UplinkConfig
  subscriptions: string[]
  will: () => { topic: string; payload: Buffer }
  logger?: UplinkLogger | undefined
  /** reconnect and probe timers; mqtt.js keeps its own (connectTimeout, keepalive pings) */
  clock?: Clock | undefined
  /** TLS options for mqtts/wss endpoints (uplinkTls) */
  tls?: Partial<IClientOptions> | undefined
}

/**
 * The connection to the cloud: one MQTT client at a time to the first endpoint that answers, in order of
 * preference. Lifecycle: start → (connected ⇄ disconnected, failover, failback) → stop.
 * Each endpoint has a circuit breaker (cockatiel): after `breakerThreshold` failed connects it is skipped
 * until `probeInterval` has passed; the half-open trial is the periodic probe that brings us back.
 * All endpoints failing → exponential backoff with decorrelated jitter (cockatiel) before the next round;
 * and while they were only *unreachable* (refused TCP, reset, timeout) rather than *refusing* (a CONNACK
 * code: credentials, authorization, protocol), a cheap TCP-connect probe every `reachProbe` ms as well: the
 * first endpoint that answers is connected at once with its breaker reset, so a flapping cellular link is
 * used within about a second of coming back, not after a 4–10 s backoff (issue 12).
 * Timers: reconnects and probes on the injected clock; cockatiel's breaker reads real time for its half-open
 * wait, and mqtt.js owns its connect timeout and keepalive pings (library timers).
 */
export class Link {
  client: MqttClient | null = null
  index = -1
  connects = 0
  failovers = 0
  lastError: ErrorData | null = null
  readonly breakers: CircuitBreakerPolicy[]
  private running = false
  private connecting = false
  private readonly versions = new Map<string, 4 | 5>()
  private readonly backoffs: ExponentialBackoff<unknown>
  private backoff: IBackoff<unknown> | null = null
  private readonly clock: Clock
  private timer: unknown = null
  private probeTimer: unknown = null
  private probing = false
  private readonly reach: ReachProbe

  constructor(
    private readonly opts: LinkOptions,
    private readonly ev: LinkEvents,
  ) {
    const c = opts.config
    this.clock = opts.clock ?? systemClock
    this.breakers = c.urls.map(() =>
      circuitBreaker(handleAll, {
        halfOpenAfter: c.probeInterval,
        breaker: new ConsecutiveBreaker(c.breakerThreshold),
      }),
    )
    this.backoffs = new ExponentialBackoff({ initialDelay: c.reconnect.min, maxDelay: c.reconnect.max })
    this.reach = new ReachProbe(c.urls, c.reachProbe, this.clock, (i) => this.reachableAgain(i))
  }

  /** An unreachable endpoint answers again: forget its failures and connect now. */
  private reachableAgain(i: number): void {
    const c = this.opts.config
    this.breakers[i] = circuitBreaker(handleAll, {
      halfOpenAfter: c.probeInterval,
      breaker: new ConsecutiveBreaker(c.breakerThreshold),
    })
    this.backoff = null
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
    void this.loop()
  }

  get endpoint(): string | null {
    return this.client ? (this.opts.config.urls[this.index] ?? null) : null
  }

  start(): void {
    if (this.running) return
    this.running = true
    void this.loop()
  }

  /** Close the link. `graceful` sends DISCONNECT (no last will); otherwise the socket is dropped. */
  async stop(graceful: boolean): Promise<void> {
    this.running = false
    this.clearTimers()
    const c = this.client
    this.client = null
    if (c) {
      this.ev.disconnected(graceful ? 'stopped' : 'paused')
      await endClient(c, graceful, this.clock)
    }
  }

  /** Drop the current connection and reconnect (used when acks stop coming on a link that looks up). */
  reconnect(reason: string): void {
    const c = this.client
    if (!c) return
    this.lastError = { code: 'FOG_UPLINK_TIMEOUT', message: reason, where: { url: this.endpoint } }
    this.client = null
    this.ev.disconnected(reason)
    void endClient(c, false, this.clock)
    this.schedule(this.jitter(this.opts.config.reconnect.min))
  }

  private clearTimers(): void {
    this.reach.stop()
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    if (this.probeTimer !== null) this.clock.clearInterval(this.probeTimer)
    this.timer = null
    this.probeTimer = null
  }

  private jitter(ms: number): number {
    return Math.round(ms * (0.5 + Math.random() * 0.5))
  }

  private schedule(ms: number): void {
    if (!this.running) return
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = this.clock.setTimeout(() => {
      this.timer = null
      void this.loop()
    }, ms)
  }

  private async loop(): Promise<void> {
    if (!this.running || this.client || this.connecting) return
    this.connecting = true
    let refused = false
    try {
      const urls = this.opts.config.urls
      for (let i = 0; i < urls.length; i++) {
        if (!this.running) return
        try {
          const c = await this.breakers[i]!.execute(() => this.connectOnce(urls[i]!))
          if (!this.running) {
            await endClient(c, true, this.clock)
            return
          }
          this.attach(c, i)
          this.backoff = null
          return
        } catch (err) {
          if (err instanceof BrokenCircuitError) continue
          const e = describeConnectError(err, urls[i]!)
          // a CONNACK refusal (mqtt.js puts its return code on err.code) is not fixed by trying again soon
          if (typeof (err as { code?: unknown }).code === 'number') refused = true
          // one warning per outage and cause, not one per retry
          if (e.message !== this.lastError?.message || e.where.url !== this.lastError?.where.url)
            this.opts.logger?.warn(
              { url: urls[i], code: e.code, err: e.message },
              'cloud endpoint did not connect',
            )
          this.lastError = e
        }
      }
      // every endpoint failed or is open-circuited: back off with jitter, then start again from the primary
      this.backoff = this.backoff ? this.backoff.next(undefined) : this.backoffs.next()
      this.schedule(this.backoff.duration)
      if (!refused && this.running) this.reach.start()
    } finally {
      this.connecting = false
    }
  }

  private async connectOnce(url: string): Promise<MqttClient> {
    const want = this.opts.config.protocolVersion
    const v = want === 'auto' ? (this.versions.get(url) ?? 5) : want
    try {
      const c = await this.tryConnect(url, v, this.opts.clientId, false)
      this.versions.set(url, v)
      return c
    } catch (err) {
      // aedes answers an MQTT 5 CONNECT by closing or refusing the protocol; fall back to 3.1.1
      if (want === 'auto' && v === 5 && !isSocketError(err)) {
        const c = await this.tryConnect(url, 4, this.opts.clientId, false)
        this.versions.set(url, 4)
        return c
      }
      throw err
    }
  }

  private tryConnect(url: string, version: 4 | 5, clientId: string, probe: boolean): Promise<MqttClient> {
    const cfg = this.opts.config
    const will = this.opts.will()
    const o: IClientOptions = {
      clientId,
      clean: probe,
      protocolVersion: version,
      reconnectPeriod: 0,
      connectTimeout: cfg.connectTimeout,
      keepalive: Math.max(1, Math.round(cfg.keepalive / 1000)),
      // pings on a fixed schedule even under steady publishing, so a blackholed link is noticed
      reschedulePings: false,
      resubscribe: false,
      ...this.opts.tls,
    }
    if (!probe) o.will = { topic: will.topic, payload: will.payload, qos: 1, retain: false }
    // MQTT 5: a session without an expiry ends at disconnect [MQTT-3.1.2-23]; keep it an hour
    if (version === 5 && !probe) o.properties = { sessionExpiryInterval: 3600 }
    if (cfg.username !== undefined) o.username = cfg.username
    if (cfg.password !== undefined) o.password = cfg.password
    const c = connect(url, o)
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        c.removeListener('connect', ok)
        c.removeListener('error', fail)
        c.removeListener('close', closed)
        c.end(true)
        reject(err)
      }
      const closed = () =>
        fail(new FoglineError('FOG_UPLINK_UNAVAILABLE', 'the connection closed before CONNACK', { url }))
      const ok = () => {
        c.removeListener('error', fail)
        c.removeListener('close', closed)
        // mqtt.js does not set TCP_NODELAY; small batches and acks must not wait for Nagle
        ;(c.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true)
        resolve(c)
      }
      c.once('connect', ok)
      c.once('error', fail)
      c.once('close', closed)
    })
  }

  private attach(c: MqttClient, i: number): void {
    const prev = this.index
    this.reach.stop()
    this.client = c
    this.index = i
    this.connects++
    if (prev >= 0 && prev !== i) this.failovers++
    c.on('message', (topic, payload) => this.ev.message(topic, payload))
    c.on('error', (err) => {
      this.lastError = describeConnectError(err, this.opts.config.urls[i]!)
    })
    c.on('close', () => {
      if (this.client !== c) return
      this.client = null
      this.ev.disconnected('connection lost')
      c.end(true)
      this.schedule(this.jitter(this.opts.config.reconnect.min))
    })
    c.subscribe(Object.fromEntries(this.opts.subscriptions.map((t) => [t, { qos: 1 as const }])))
    this.opts.logger?.info(
      { url: this.opts.config.urls[i], version: this.versions.get(this.opts.config.urls[i]!) },
      'cloud link up',
    )
    if (this.probeTimer !== null) this.clock.clearInterval(this.probeTimer)
    this.probeTimer = null
    if (i > 0)
      this.probeTimer = this.clock.setInterval(() => void this.probe(), this.opts.config.probeInterval)
    this.ev.connected(c, this.opts.config.urls[i]!)
  }

  /** While on a secondary: try the preferred endpoints; the first that answers takes over. */
  private async probe(): Promise<void> {
    if (this.probing || !this.client || this.index <= 0) return
    this.probing = true
    try {
      const urls = this.opts.config.urls
      for (let j = 0; j < this.index; j++) {
        try {
          const url = urls[j]!
          const v = this.versions.get(url) ?? (this.opts.config.protocolVersion === 5 ? 5 : 4)
          const p = await this.breakers[j]!.execute(() =>
            this.tryConnect(url, v, `${this.opts.clientId}-probe`, true),
          )
          await endClient(p, true, this.clock)
        } catch {
          continue
        }
        // primary is back: move over; in-flight batches are resent there
        const old = this.client
        if (!old || !this.running) return
        this.client = null
        this.ev.disconnected('failback')
        await endClient(old, true, this.clock)
        this.clearTimers()
        void this.loop()
        return
      }
    } finally {
      this.probing = false
    }
  }
}

function isSocketError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && /^E[A-Z]+$/.test(code)
}

/** end() waits for in-flight QoS 1 acks when not forced; never wait more than a second for that */
export function endClient(c: MqttClient, graceful: boolean, clock: Clock = systemClock): Promise<void> {
  return new Promise((resolve) => {
    if (!graceful) {
      c.end(true, () => resolve())
      return
    }
    const t = clock.setTimeout(() => c.end(true, () => resolve()), 1000)
    c.end(false, () => {
      clock.clearTimeout(t)
      resolve()
    })
  })
}

/** CONNACK return codes that refuse the login: 3.1.1 (4 bad user name or password, 5 not authorized) and 5 (0x86, 0x87) */
const BAD_CREDENTIALS = new Set([4, 0x86])
const NOT_AUTHORIZED = new Set([5, 0x87])

/**
 * A connect failure as data a user can act on, mapped from the CONNACK return code that mqtt.js puts on
 * `err.code` (never from message text): a refused login is FOG_AUTH_FAILED naming uplink.username, so a
 * wrong password does not read like a network fault; anything else is FOG_UPLINK_UNAVAILABLE.
 */
export function describeConnectError(err: unknown, url: string): ErrorData {
  const code = (err as { code?: unknown })?.code
  const message = err instanceof Error ? err.message : String(err)
  if (typeof code === 'number' && BAD_CREDENTIALS.has(code))
    return {
      code: 'FOG_AUTH_FAILED',
      message: `the cloud broker refused the node's credentials (check uplink.username and uplink.password): ${message}`,
      where: { field: 'uplink.username', url },
    }
  if (typeof code === 'number' && NOT_AUTHORIZED.has(code))
    return {
      code: 'FOG_AUTH_FAILED',
      message: `the cloud broker does not authorize this node (uplink.username): ${message}`,
      where: { field: 'uplink.username', url },
    }
  if (err instanceof FoglineError) return err.toJSON()
  return { code: 'FOG_UPLINK_UNAVAILABLE', message, where: { url } }
}
