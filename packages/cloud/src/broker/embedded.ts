import { randomBytes } from 'node:crypto'
import {
  type Broker,
  type BrokerLogger,
  brokerListenersFromConfig,
  isLoopback,
  type ListenerSpec,
  parseAcl,
  startBroker,
} from '@fogline/broker'
import { type CloudConfig, FoglineError, resolveSecrets } from '@fogline/protocol'
import type { Aedes } from 'aedes'

export interface EmbeddedBroker {
  /** where nodes connect: the first listener */
  url: string
  /** where the cloud's own clients connect: a plain loopback listener when TLS listeners are configured */
  internalUrl: string
  aedes: Aedes
  /** credentials of the cloud's own clients when nodes must identify (`nodes` or client certificates), else null */
  internal: { username: string; password: string } | null
  /** logins refused, and publishes or subscriptions outside a node's own topics */
  refused(): { logins: number; publishes: number; subscriptions: number }
  /** one line per listener: what is open and to whom */
  describe(): string[]
  close(): Promise<void>
}

const INTERNAL_USER = '$fogline-cloud'

/**
 * Per-node topic rights, in the fog broker's ACL format: a node's MQTT user name is its node id; it writes
 * only under fogline/v1/{id}/up/ and reads its own down/ topics and group desired-state documents (signed,
 * read-only to nodes). The cloud's own clients (INTERNAL_USER) may do anything.
 */
const NODE_ACL = `
user ${INTERNAL_USER}
topic readwrite #
pattern write fogline/v1/%u/up/#
pattern read fogline/v1/%u/down/#
pattern read fogline/v1/group/+/down/desired
`

type EmbeddedConfig = Extract<CloudConfig['broker'], { embedded: unknown }>['embedded']

/**
 * The cloud's in-process broker (one-machine default), built on @fogline/broker: the same listeners and TLS
 * as the fog broker. With `nodes` set every client must log in and the per-node rights apply; without it
 * anonymous nodes are let in only on a loopback listener (the demo, tests); any other listener without
 * `nodes` is refused at start, since no node could log in.
 * @example const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 }); mqtt.connect(b.url)
 */
export async function startEmbeddedBroker(
  opts: EmbeddedConfig,
  where: { file?: string; log?: BrokerLogger } = {},
): Promise<EmbeddedBroker> {
  const nodes = opts.nodes ? resolveSecrets(opts.nodes, 'broker.embedded.nodes', where.file) : null
  const configured: ListenerSpec[] = opts.listeners
    ? brokerListenersFromConfig(opts.listeners, 'broker.embedded.listeners', where.file)
    : [{ type: 'mqtt', host: opts.host, port: opts.port }]
  // node identity: a password (nodes) or a client certificate whose CN is the node id
  const certs = configured.some((l) => l.requireCertificate)
  const open = configured.find((l) => l.anonymous === true || !isLoopback(l.host))
  if (!nodes && !certs && open)
    throw new FoglineError(
      'FOG_CONFIG_INVALID',
      `the cloud broker listens on ${open.host} without node logins: set broker.embedded.nodes or requireCertificate (anonymous nodes only on a loopback listener)`,
      { ...(where.file ? { file: where.file } : {}), field: 'broker.embedded.nodes' },
    )
  const rights = nodes !== null || certs
  const internal = rights
    ? { username: INTERNAL_USER, password: randomBytes(18).toString('base64url') }
    : null
  // the cloud's own clients need no certificate: with TLS listeners they get a plain one on loopback
  const plainFirst = configured[0]!.type === 'mqtt' && !configured[0]!.requireCertificate
  const listeners: ListenerSpec[] = plainFirst
    ? configured
    : [...configured, { type: 'mqtt', host: '127.0.0.1', port: 0 }]
  const broker: Broker = await startBroker({
    listeners,
    ...(internal
      ? {
          users: { ...Object.fromEntries(nodes ?? []), [internal.username]: internal.password },
          acl: parseAcl(NODE_ACL),
        }
      : {}),
    // a node writing as another is not a slip: close its connection [MQTT-3.3.5-2]
    deniedPublish: 'disconnect',
    ...(where.log ? { log: where.log } : {}),
  })
  return {
    url: broker.listeners[0]!.url,
    internalUrl: broker.listeners[plainFirst ? 0 : listeners.length - 1]!.url,
    aedes: broker.aedes,
    internal,
    refused() {
      const c = broker.counters()
      const r = c.refused
      return {
        logins: r.badPassword + r.unknownUser + r.anonymous + r.certificate + r.clientId,
        publishes: c.denied.publish,
        subscriptions: c.denied.subscribe,
      }
    },
    describe: () => broker.describe(),
    close: () => broker.close(),
  }
}
