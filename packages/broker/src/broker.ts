import { createRequire } from 'node:module'
import type { Socket } from 'node:net'
import { type Clock, systemClock } from '@fogline/protocol'
import type { AedesOptions, Aedes as AedesType, Client, PublishPacket } from 'aedes'
import type { Acl } from './acl.js'
import { wrapAedes } from './aedes-wrap.js'
import { connectionHandlers } from './connection.js'
import {
  type BrokerCounters,
  type BrokerLogger,
  newCounters,
  type RefusalReason,
  silentLogger,
} from './counters.js'
import type { FastPath } from './direct-read.js'
import { type AcceptDurable, acceptQos2, holdQos1Ack, type Qos2Ids } from './durable.js'
import { fastPuback, skipUnroutable } from './fast.js'
import { fastPublisher } from './fast-publish.js'
import { type AuthState, securityHooks } from './hooks.js'
import { type BrokerLimits, DEFAULT_LIMITS } from './limits.js'
import {
  type ConnInfo,
  describeListener,
  isLoopback,
  type ListenerSpec,
  type OpenListener,
  openListener,
} from './listeners.js'
import { guardMqRecursion } from './mq-guard.js'
import type { PasswordFile } from './passwd.js'

export interface BrokerOptions {
  /** one plain `mqtt` listener on host:port (default 127.0.0.1:1883) when `listeners` is not given */
  host?: string
  /** 0 picks a free port */
  port?: number
  /** the listeners (mqtt, mqtts, ws, wss); the first one's address is `url` */
  listeners?: ListenerSpec[]
  /** publishes larger than this are not handed to `onMessage`; they are reported through `onOversize` */
  maxPayload?: number
  /** username → plaintext password (programmatic use, the demo); prefer `passwords` */
  users?: Record<string, string>
  /** a parsed password file (salted scrypt hashes) */
  passwords?: PasswordFile
  /** topic rights; unset: every admitted client may publish and subscribe anywhere */
  acl?: Acl
  /** a publish the ACL denies: acknowledged and dropped (default), or the connection closed */
  deniedPublish?: 'drop' | 'disconnect'
  /** limits; unset fields take DEFAULT_LIMITS (0 for a rate: unlimited) */
  limits?: Partial<BrokerLimits>
  /** time for limits, throttling and the connect timeout (default: the system clock) */
  clock?: Clock
  log?: BrokerLogger
  /** called for every client publish (not $SYS, not broker-internal), after the broker accepted it */
  onMessage?: (topic: string, payload: Buffer, clientId: string) => void
  onOversize?: (topic: string, size: number, clientId: string) => void
  onAuthFailure?: (clientId: string, username: string | undefined, reason: RefusalReason) => void
  /**
   * QoS 1 and 2 client publishes go here instead of `onMessage`, and their PUBACK (QoS 1) or PUBREC (QoS 2)
   * waits for `done` (durable ingest)
   */
  acceptDurable?: AcceptDurable
  /** QoS 2 packet ids kept past a restart (with `acceptDurable`): a resend after a crash is not taken twice */
  qos2Ids?: Qos2Ids
  /**
   * read plain TCP clients into a shared buffer, parse whole PUBLISH packets directly and write their PUBACKs
   * through the socket's handle (default true)
   */
  fastPath?: boolean
}

/** A running MQTT broker. Lifecycle: start → (clients publish) → [reload] → close. */
export interface Broker {
  readonly aedes: AedesType
  readonly host: string
  readonly port: number
  /** the first listener's URL, e.g. mqtt://127.0.0.1:1883 */
  readonly url: string
  readonly listeners: ReadonlyArray<{ type: ListenerSpec['type']; host: string; port: number; url: string }>
  clients(): number
  /** refusals, denials and limit hits since start (a copy) */
  counters(): BrokerCounters
  /** one line per listener: which are open and to whom (the node prints it at start) */
  describe(): string[]
  /** swap the password file and ACL without a restart (rotation); connected clients keep their session */
  reload(next: { passwords?: PasswordFile; users?: Record<string, string>; acl?: Acl }): void
  close(): Promise<void>
}

const clone = <T>(v: T): T => structuredClone(v)

// the mqtt-packet aedes itself loads (resolved from aedes' folder, not ours)
const aedesRequire = createRequire(createRequire(import.meta.url).resolve('aedes'))
const mqttPacketRequire = createRequire(aedesRequire.resolve('mqtt-packet'))

/**
 * Start an aedes broker on its listeners with logins, ACLs and limits. Nagle is off on every socket (aedes
 * does not set TCP_NODELAY; with Nagle on, QoS 0 latency at 2k msg/s was 18 ms p50 instead of 0.2 ms).
 * @example const b = await startBroker({ port: 0, onMessage: (t, p) => engine.ingest(t, p) })
 */
export async function startBroker(opts: BrokerOptions = {}): Promise<Broker> {
  const { Aedes } = await import('aedes')
  fastPuback(aedesRequire('mqtt-packet'), mqttPacketRequire('bl').BufferList)
  const clock = opts.clock ?? systemClock
  const log = opts.log ?? silentLogger
  const limits: BrokerLimits = { ...DEFAULT_LIMITS, publishRate: 0, publishBytesPerSec: 0, ...opts.limits }
  const counters = newCounters()
  const auth: AuthState = { passwords: opts.passwords, users: opts.users, acl: opts.acl }
  const info = new WeakMap<object, ConnInfo>()
  const dropped = new WeakSet<object>()
  let aedes: AedesType | undefined
  const hooks = securityHooks({
    auth,
    limits,
    clock,
    log,
    counters,
    info,
    dropped,
    connected: () => aedes?.connectedClients ?? 0,
    onAuthFailure: opts.onAuthFailure,
    deniedPublish: opts.deniedPublish ?? 'drop',
  })
  const options = aedesOptions(hooks, limits, opts, dropped)
  const broker = await Aedes.createBroker(options)
  aedes = broker
  guardMqRecursion((broker as unknown as { mq: unknown }).mq)
  skipUnroutable(broker)
  // after skipUnroutable, so an ACL-dropped publish never reaches its shortcut to `published`
  wrapAedes(broker, { dropped, limits, counters, log, qos2Ids: opts.acceptDurable && opts.qos2Ids })
  const sockets = new Set<Socket>()
  const logins = () => {
    const n = (auth.passwords?.size ?? 0) + Object.keys(auth.users ?? {}).length
    return n > 0 ? `${n} user${n === 1 ? '' : 's'} with a password` : ''
  }
  const hasLogins = logins() !== ''
  const { handle, onTlsError } = connectionHandlers(broker, {
    info,
    clock,
    limits,
    counters,
    log,
    fast: opts.fastPath === false ? undefined : fastPathOf(broker),
  })
  const open = await openAll(
    opts.listeners ?? [{ type: 'mqtt', host: opts.host ?? '127.0.0.1', port: opts.port ?? 1883 }],
    hasLogins,
    handle,
    onTlsError,
    sockets,
    broker,
  )
  const first = open[0]!
  let closed: Promise<void> | undefined
  return {
    aedes: broker,
    host: first.spec.host,
    port: first.port,
    url: first.url,
    listeners: open.map((l) => ({ type: l.spec.type, host: l.spec.host, port: l.port, url: l.url })),
    clients: () => broker.connectedClients,
    counters: () => clone(counters),
    describe: () => open.map((l) => describeListener(l, logins())),
    reload(next) {
      if ('passwords' in next) auth.passwords = next.passwords
      if ('users' in next) auth.users = next.users
      if ('acl' in next) auth.acl = next.acl
    },
    close() {
      closed ??= (async () => {
        const done = Promise.all(open.map((l) => l.close()))
        // destroy client sockets so the servers can finish closing
        for (const s of sockets) s.destroy()
        await done
        await new Promise<void>((r) => broker.close(() => r()))
      })()
      return closed
    },
  }
}

/** broker.fastPath's parts: mqtt-packet's Packet class (the copy aedes loads) and the publisher. */
const fastPathOf = (broker: AedesType): FastPath => ({
  Packet: mqttPacketRequire('./packet.js'),
  publish: fastPublisher(broker as never),
})

/** Open every listener; if one fails (port taken), close those opened and the broker, then throw. */
async function openAll(
  specs: ListenerSpec[],
  hasLogins: boolean,
  handle: Parameters<typeof openListener>[1],
  onTlsError: Parameters<typeof openListener>[2],
  sockets: Set<Socket>,
  broker: AedesType,
): Promise<OpenListener[]> {
  const open: OpenListener[] = []
  try {
    for (const spec of specs) {
      // anonymous by default only where nobody but this machine can reach the port, and no logins are set
      const anonymous = spec.anonymous ?? (isLoopback(spec.host) && !hasLogins)
      open.push(await openListener({ ...spec, anonymous }, handle, onTlsError, sockets))
    }
    return open
  } catch (err) {
    await Promise.all(open.map((l) => l.close()))
    await new Promise<void>((r) => broker.close(() => r()))
    throw err
  }
}

/** aedes' options: our hooks, bounded queues, and `published` handing client messages to the node. */
function aedesOptions(
  hooks: Partial<AedesOptions>,
  limits: BrokerLimits,
  opts: BrokerOptions,
  dropped: WeakSet<object>,
): AedesOptions {
  const maxPayload = opts.maxPayload ?? 256 * 1024
  const onMessage = opts.onMessage
  const accept = opts.acceptDurable
  let taken: ((packet: PublishPacket, client: Client | null) => boolean) | undefined
  const options: AedesOptions = {
    ...hooks,
    // a slow sensor client must not grow memory without bound
    queueLimit: 1000,
    maxInflightInbound: limits.maxInflight,
    // aedes owns this timer (a backstop); ours, on the injected clock, closes first and counts
    connectTimeout: Math.max(30_000, limits.connectTimeout * 2),
    published(packet, client, done) {
      if (client && onMessage && !taken?.(packet, client)) {
        const payload = packet.payload as Buffer
        if (payload.length > maxPayload) opts.onOversize?.(packet.topic, payload.length, client.id)
        else if (packet.qos === 2 && accept) return acceptQos2(accept, client, packet, payload, done)
        else onMessage(packet.topic, payload, client.id)
      }
      done()
    },
  }
  // last, so it wraps the authorizer above: a refused or ACL-dropped publish is never journaled
  if (accept) taken = holdQos1Ack(options, accept, maxPayload, opts.onOversize, dropped)
  return options
}
