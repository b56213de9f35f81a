import { randomBytes } from 'node:crypto'
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'
import { guardMqRecursion, sameSecret } from '@fogline/broker'
import { resolveSecrets } from '@fogline/protocol'
import type { Aedes, AedesOptions } from 'aedes'

export interface EmbeddedBroker {
  url: string
  aedes: Aedes
  /** credentials of the cloud's own clients when the broker requires logins (`nodes` set), else null */
  internal: { username: string; password: string } | null
  /** logins refused, and publishes or subscriptions outside a node's own topics */
  refused(): { logins: number; publishes: number; subscriptions: number }
  close(): Promise<void>
}

const INTERNAL_USER = '$fogline-cloud'

/**
 * Logins and per-node topic rights: a node's MQTT username is its node id; it may publish only under
 * fogline/v1/{id}/up/ and subscribe only under fogline/v1/{id}/down/ and to group desired-state documents
 * (fogline/v1/group/{g}/down/desired: signed, and read-only to nodes). The cloud's own clients log in as
 * INTERNAL_USER with a password made for this run.
 */
function nodeRights(nodes: Map<string, string>, internal: { username: string; password: string }) {
  const refused = { logins: 0, publishes: 0, subscriptions: 0 }
  const user = new WeakMap<object, string>()
  const options: Partial<AedesOptions> = {
    authenticate(client, username, password, done) {
      const want =
        username === internal.username ? internal.password : username ? nodes.get(username) : undefined
      if (want === undefined || password === undefined || !sameSecret(password, want)) {
        refused.logins++
        // [MQTT-3.2.2-3] CONNACK 4: bad user name or password
        return done(Object.assign(new Error('bad user name or password'), { returnCode: 4 }) as never, false)
      }
      user.set(client, username!)
      done(null, true)
    },
    authorizePublish(client, packet, done) {
      const u = client ? user.get(client) : undefined
      if (u === internal.username || (u !== undefined && packet.topic.startsWith(`fogline/v1/${u}/up/`)))
        return done(null)
      refused.publishes++
      done(new Error(`node ${u ?? '?'} may not publish to ${packet.topic}`))
    },
    authorizeSubscribe(client, sub, done) {
      const u = client ? user.get(client) : undefined
      // a node reads its own down topics and group documents (signed desired state, read-only to it)
      const own = u !== undefined && sub.topic.startsWith(`fogline/v1/${u}/down/`)
      const group = u !== undefined && /^fogline\/v1\/group\/[^/+#]+\/down\/desired$/.test(sub.topic)
      if (u === internal.username || own || group) return done(null, sub)
      refused.subscriptions++
      done(null, null as never) // SUBACK 0x80 for this filter
    },
  }
  return { options, refused }
}

/**
 * The cloud's in-process aedes broker (one-machine default). Port 0 picks a free port.
 * @example const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 }); mqtt.connect(b.url)
 */
export async function startEmbeddedBroker(opts: {
  host: string
  port: number
  nodes?: Record<string, string> | undefined
}): Promise<EmbeddedBroker> {
  const { Aedes } = await import('aedes')
  const internal = opts.nodes
    ? { username: INTERNAL_USER, password: randomBytes(18).toString('base64url') }
    : null
  const rights =
    opts.nodes && internal ? nodeRights(resolveSecrets(opts.nodes, 'broker.embedded.nodes'), internal) : null
  const aedes = await Aedes.createBroker(rights ? rights.options : {})
  // the same stack-overflow guard as the fog node's broker (mcollina/mqemitter#204)
  guardMqRecursion((aedes as unknown as { mq: unknown }).mq)
  const sockets = new Set<Socket>()
  // Nagle off: acks are small and latency-bound
  const server: Server = createServer({ noDelay: true }, (sock) => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    aedes.handle(sock)
  })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    await new Promise<void>((r) => aedes.close(() => r()))
    throw err
  }
  const { port } = server.address() as AddressInfo
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host
  let closing: Promise<void> | undefined
  return {
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`,
    aedes,
    internal,
    refused: () => ({ ...(rights?.refused ?? { logins: 0, publishes: 0, subscriptions: 0 }) }),
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((r) => server.close(() => r()))
        for (const s of sockets) s.destroy()
        await closed
        await new Promise<void>((r) => aedes.close(() => r()))
      })()
      return closing
    },
  }
}
