import type { Clock } from '@fogline/protocol'
import type { Client } from 'aedes'
import type { Acl } from './acl.js'
import type { BrokerCounters, BrokerLogger, RefusalReason } from './counters.js'
import { type BrokerLimits, type LimitName, LogOnce, takeTokens } from './limits.js'
import type { ConnInfo } from './listeners.js'
import type { PasswordFile } from './passwd.js'

/** What the hooks read; `passwords` and `acl` may be swapped at run time (reload). */
export interface AuthState {
  passwords: PasswordFile | undefined
  /** plaintext logins (programmatic use and the demo; the config layer refuses them elsewhere) */
  users: Record<string, string> | undefined
  acl: Acl | undefined
}

/** The publish rate limits (0: off) and their clock, one object for every session. */
interface Rates {
  msgs: number
  bytes: number
  clock: Clock
}

/** What the broker keeps per logged-in client: its user, its two publish rate limits, its last good topic. */
export class Session {
  /** the last topic that passed the topic checks and the ACL, and the ACL it passed (authorize.ts) */
  okTopic: string | undefined = undefined
  okAcl: Acl | undefined = undefined
  /**
   * The two token buckets (`takeTokens`, limits.ts) in one array of doubles, [messages, at, bytes, at], which
   * V8 keeps unboxed: two TokenBucket objects cost ~190 B a connection (boxed doubles and two headers), this
   * ~80 (docs/decisions.md, "The same, on the broker's side").
   */
  private readonly tokens: number[] | undefined

  constructor(
    readonly user: string | undefined,
    private readonly rates: Rates,
  ) {
    if (rates.msgs > 0 || rates.bytes > 0) {
      const now = rates.clock.now()
      this.tokens = [rates.msgs, now, rates.bytes, now]
    }
  }

  /** whether either publish rate limit is on (then `takeMsgs` and `takeBytes` need the time) */
  get limited(): boolean {
    return this.tokens !== undefined
  }

  /** publishRate: 0, or the ms until n more messages are due; 0 when the limit is off */
  takeMsgs(n: number, now: number = this.rates.clock.now()): number {
    return this.take(0, this.rates.msgs, n, now)
  }

  /** publishBytesPerSec: the same for n bytes */
  takeBytes(n: number, now: number = this.rates.clock.now()): number {
    return this.take(2, this.rates.bytes, n, now)
  }

  private take(i: number, perSec: number, n: number, now: number): number {
    const t = this.tokens
    if (perSec <= 0 || t === undefined) return 0
    return takeTokens(t, i, perSec, perSec, now, n)
  }
}

/** What the hooks are given. */
export interface HookCtx {
  auth: AuthState
  limits: BrokerLimits
  clock: Clock
  log: BrokerLogger
  counters: BrokerCounters
  info: WeakMap<object, ConnInfo>
  dropped: WeakSet<object>
  connected: () => number
  onAuthFailure?:
    | ((clientId: string, username: string | undefined, reason: RefusalReason) => void)
    | undefined
  /** a publish the ACL denies: acknowledged and dropped, or the connection closed */
  deniedPublish: 'drop' | 'disconnect'
}

/** What the hooks share: sessions (user, token buckets), the once-a-minute log gate, counting helpers. */
export type Shared = ReturnType<typeof shared>

export function shared(ctx: HookCtx) {
  const { limits, clock, log, counters } = ctx
  const sessions = new WeakMap<Client, Session>()
  const noId = new WeakSet<Client>()
  const once = new LogOnce(clock)
  const rates: Rates = { msgs: limits.publishRate, bytes: limits.publishBytesPerSec, clock }

  const hit = (client: Client, name: LimitName, detail: object) => {
    counters.limits[name]++
    if (once.due(`${name}:${client.id}`))
      log.warn(
        { code: 'FOG_NOT_AUTHORIZED', limit: name, clientId: client.id, ...detail },
        `limit ${name} hit`,
      )
  }

  const refuse = (
    client: Client,
    username: string | undefined,
    reason: RefusalReason,
    done: (err: never, ok: boolean) => void,
    rc: number,
  ) => {
    counters.refused[reason]++
    const info = ctx.info.get(client.conn)
    const remote = info?.remote ?? '?'
    if (once.due(`refused:${reason}:${remote.slice(0, remote.lastIndexOf(':'))}`))
      log.warn(
        { code: 'FOG_AUTH_FAILED', reason, clientId: client.id, username: username ?? null, remote },
        `a client was refused at CONNECT: ${reason}`,
      )
    ctx.onAuthFailure?.(client.id, username, reason)
    done(refusal(rc, reason), false)
  }

  const begin = (client: Client, user: string | undefined) => {
    // who came in, how and from where (never the password): at debug, one line per login
    const info = ctx.info.get(client.conn)
    log.debug?.(
      { clientId: client.id, username: user ?? null, listener: info?.listener.type, remote: info?.remote },
      'a client logged in',
    )
    sessions.set(client, new Session(user, rates))
  }
  return { ...ctx, sessions, noId, once, hit, refuse, begin }
}

// CONNACK return codes [MQTT-3.2.2-3]
export const RC = { clientId: 2, unavailable: 3, badLogin: 4, notAuthorized: 5 } as const

/** An error that makes aedes answer CONNACK `rc`. */
export function refusal(rc: number, message: string) {
  return Object.assign(new Error(message), { returnCode: rc }) as never
}
