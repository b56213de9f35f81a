import type { Clock } from '@fogline/protocol'
import type { Client } from 'aedes'
import type { Acl } from './acl.js'
import type { BrokerCounters, BrokerLogger, RefusalReason } from './counters.js'
import { type BrokerLimits, type LimitName, LogOnce, refillTokens, tokenDebtMs } from './limits.js'
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

/**
 * What the broker keeps per logged-in client. Its two token buckets (publishRate, publishBytesPerSec) are
 * TokenBucket's arithmetic (limits.ts: burst one second's worth, starting full, the debt kept) on fields of
 * the session itself, rather than two bucket objects per connection (128 bytes; bench/heap-per-conn.ts).
 */
export class Session {
  /** the last topic that passed the topic checks and the ACL, and the ACL it passed (authorize.ts) */
  okTopic: string | undefined = undefined
  okAcl: Acl | undefined = undefined
  private msgTokens: number
  private msgAt: number
  private byteTokens: number
  private byteAt: number

  constructor(
    readonly user: string | undefined,
    private readonly rates: Rates,
  ) {
    const now = rates.msgs > 0 || rates.bytes > 0 ? rates.clock.now() : 0
    this.msgTokens = rates.msgs
    this.msgAt = now
    this.byteTokens = rates.bytes
    this.byteAt = now
  }

  /** TokenBucket.take(n) on the publishRate bucket: 0, or the ms until n more are due; 0 when the limit is off */
  takeMsgs(n: number): number {
    const perSec = this.rates.msgs
    if (perSec <= 0) return 0
    const now = this.rates.clock.now()
    this.msgTokens = refillTokens(this.msgTokens, now - this.msgAt, perSec, perSec) - n
    this.msgAt = now
    return tokenDebtMs(this.msgTokens, perSec)
  }

  /** the same on the publishBytesPerSec bucket */
  takeBytes(n: number): number {
    const perSec = this.rates.bytes
    if (perSec <= 0) return 0
    const now = this.rates.clock.now()
    this.byteTokens = refillTokens(this.byteTokens, now - this.byteAt, perSec, perSec) - n
    this.byteAt = now
    return tokenDebtMs(this.byteTokens, perSec)
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
