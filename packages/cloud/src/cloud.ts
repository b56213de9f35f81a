import { randomBytes } from 'node:crypto'
import {
  type Clock,
  CloudConfig,
  type CloudConfigInput,
  FoglineError,
  parseConfig,
  systemClock,
  UP_FILTER,
} from '@fogline/protocol'
import mqtt, { type MqttClient } from 'mqtt'
import { type Logger, pino } from 'pino'
import type { DemoHooks } from './api/routes.js'
import { buildApi } from './api/server.js'
import { type EmbeddedBroker, startEmbeddedBroker } from './broker.js'
import { CloudBus } from './bus.js'
import { Fleet } from './fleet.js'
import { attachIngest } from './ingest.js'
import { createMetrics } from './metrics.js'
import { openStore } from './store/index.js'
import type { Store } from './store/types.js'

export interface CloudOptions {
  logger?: Logger
  /** `fogline demo` passes this to enable POST /api/demo/nodes/:id/link */
  demo?: DemoHooks
  /** time for the fleet's offline rule (tests drive it) */
  clock?: Clock
  /** use this store instead of opening config.store (closed by stop()) */
  store?: Store
  /** serve the dashboard from this folder instead of @fogline/dashboard's `dashboardRoot` */
  dashboardRoot?: string
}

/** A running aggregator. Lifecycle: startCloud → (ingest, API) → stop. */
export interface Cloud {
  /** where nodes uplink: the embedded broker, or the external broker's URL */
  brokerUrl: string
  /** base URL of the HTTP API and dashboard, e.g. http://127.0.0.1:8080 */
  httpUrl: string
  store: Store
  fleet: Fleet
  bus: CloudBus
  config: CloudConfig
  /** the embedded broker (null with an external one): its refused logins and out-of-bounds publishes */
  embeddedBroker: EmbeddedBroker | null
  stop(): Promise<void>
}

/**
 * Start the cloud aggregator: broker (embedded aedes or an external MQTT 5 broker with a shared subscription),
 * ingest into the store with an ack after each commit, the fleet registry and the HTTP API.
 * @example const cloud = await startCloud({ broker: { embedded: { port: 0 } }, store: { sqlite: 'c.db' }, http: { port: 0 } })
 */
export async function startCloud(
  input: CloudConfigInput | CloudConfig,
  opts: CloudOptions = {},
): Promise<Cloud> {
  const config = parseConfig(CloudConfig, input) as CloudConfig
  const logger =
    opts.logger ?? pino({ level: config.log.level, name: 'fogline-cloud', base: null }, pino.destination(2))
  const clock = opts.clock ?? systemClock
  const closers: Array<() => Promise<void> | void> = []
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c()
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'error while stopping')
      }
    }
  }
  try {
    const store = opts.store ?? (await openStore(config.store))
    closers.push(() => store.close())

    let broker: EmbeddedBroker | null = null
    let brokerUrl: string
    if ('embedded' in config.broker) {
      broker = await startEmbeddedBroker(config.broker.embedded)
      closers.push(() => broker!.close())
      brokerUrl = broker.url
    } else brokerUrl = config.broker.url

    const bus = new CloudBus()
    const metrics = createMetrics()
    const fleet = new Fleet(store, bus, clock, config.fleet.offlineAfter, config.fleet.sweepInterval)
    if (store.watch) {
      // replicas on one PostgreSQL: rows and fleet changes another replica committed reach this one's live streams
      const unwatch = await store.watch((c) => {
        const done =
          c.kind === 'node'
            ? fleet.touched(c.nodeId)
            : store.recordsBySeq(c.nodeId, c.stream, c.ranges).then((rows) => {
                for (const r of rows) r.stream === 'summary' ? bus.emit('summary', r) : bus.emit('event', r)
              })
        done.catch((err) =>
          logger.warn({ err: (err as Error).message }, 'live change from another replica not forwarded'),
        )
      })
      closers.push(unwatch)
    }

    const client = await connectIngest(config, brokerUrl, logger, broker?.internal ?? null)
    const ingest = attachIngest({ store, bus, fleet, clock, logger, metrics }, client)
    closers.push(async () => {
      await client.endAsync(true).catch(() => {})
      await ingest.idle()
    })
    const ext = 'url' in config.broker ? config.broker : null
    // [MQTT-4.8.2] shared subscription: the broker gives each message to one member of the group
    const filters = (ext?.filters ?? [UP_FILTER]).map((f) =>
      ext?.shareGroup ? `$share/${ext.shareGroup}/${f}` : f,
    )
    const granted = await client.subscribeAsync(filters, { qos: 1 })
    const refused = granted.find((g) => g.qos > 2)
    if (refused)
      throw new FoglineError(
        'FOG_NOT_AUTHORIZED',
        `the broker refused the subscription ${refused.topic} (reason ${refused.qos})`,
        { topic: refused.topic },
      )

    fleet.start((err) => logger.warn({ err: (err as Error).message }, 'fleet sweep failed'))
    closers.push(() => fleet.stop())

    const controlClosers: Array<() => Promise<void> | void> = []
    const api = await buildApi({
      store,
      fleet,
      bus,
      metrics,
      logger,
      sseHeartbeatMs: config.http.sseHeartbeat,
      demo: opts.demo,
      dashboardRoot: opts.dashboardRoot,
      brokerConnected: () => client.connected,
      control: {
        config,
        store,
        fleet,
        bus,
        clock,
        logger: logger.child({ part: 'control' }),
        mqtt: client,
        publish: (topic, payload, o = {}) =>
          client.publishAsync(topic, payload, { qos: o.qos ?? 1, retain: o.retain ?? false }).then(() => {}),
      },
      onClose: (fn) => controlClosers.push(fn),
    })
    closers.push(async () => {
      api.closeStreams()
      await api.app.close()
      for (const fn of controlClosers.reverse()) await fn()
    })
    await api.app.listen({ host: config.http.host, port: config.http.port })
    const addr = api.app.server.address()
    const port = typeof addr === 'object' && addr ? addr.port : config.http.port
    const h = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host
    const httpUrl = `http://${h.includes(':') ? `[${h}]` : h}:${port}`
    logger.info({ brokerUrl, httpUrl, store: store.kind }, 'cloud started')

    let stopping: Promise<void> | undefined
    return {
      brokerUrl,
      httpUrl,
      store,
      fleet,
      bus,
      config,
      embeddedBroker: broker,
      stop() {
        stopping ??= closeAll()
        return stopping
      },
    }
  } catch (err) {
    await closeAll()
    throw err
  }
}

async function connectIngest(
  config: CloudConfig,
  url: string,
  logger: Logger,
  internal: { username: string; password: string } | null,
): Promise<MqttClient> {
  const ext = 'url' in config.broker ? config.broker : null
  // the embedded broker with node logins gives the cloud's own client a password made for this run
  const login = ext ?? internal
  const client = mqtt.connect(url, {
    clientId: ext?.clientId ?? `fogline-cloud-${randomBytes(6).toString('hex')}`,
    // aedes speaks 3.1.1; shared subscriptions need MQTT 5
    protocolVersion: ext ? ext.protocolVersion : 4,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 5000,
    keepalive: 30,
    ...(login?.username !== undefined ? { username: login.username } : {}),
    ...(login?.password !== undefined ? { password: login.password } : {}),
  })
  client.on('connect', () => {
    // Nagle off: acks are small and latency-bound (mqtt.js does not set it)
    ;(client.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true)
  })
  client.on('error', (err) => logger.warn({ err: err.message }, 'cloud MQTT client error'))
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no CONNACK within 10 s')), 10_000)
      client.once('connect', () => {
        clearTimeout(timer)
        resolve()
      })
    })
  } catch (cause) {
    await client.endAsync(true).catch(() => {})
    throw new FoglineError(
      'FOG_UPLINK_UNAVAILABLE',
      `the cloud cannot reach its MQTT broker ${url}: ${(cause as Error).message}`,
      { url },
      { cause },
    )
  }
  return client
}
