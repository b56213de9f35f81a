import { type Clock, CloudConfig, type CloudConfigInput, parseConfig, systemClock } from '@fogline/protocol'
import { type Logger, pino } from 'pino'
import {
  type AccessParts,
  type Api,
  type ApiDeps,
  createAccess,
  type DemoHooks,
  openAccessRepo,
  startApi,
  type TokenService,
} from './api/index.js'
import { type EmbeddedBroker, startCloudBroker } from './broker/index.js'
import { startControl } from './control/index.js'
import { Fleet } from './fleet/index.js'
import { followReplicas, startIngest } from './ingest/index.js'
import { Closers, CloudBus, createMetrics } from './shared/index.js'
import { openStore, type Store, startRetention } from './store/index.js'

export interface CloudOptions {
  logger?: Logger
  /** `fogline demo` passes this to enable POST /api/demo/nodes/:id/link */
  demo?: DemoHooks
  /** time for the fleet's offline rule, rollouts and timers (tests drive it) */
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
  /** API tokens of this cloud (tests and `fogline demo` make theirs here; `fogline token` does the same) */
  tokens: TokenService
  stop(): Promise<void>
}

/**
 * Start the cloud aggregator: broker (embedded aedes or an external MQTT 5 broker with a shared subscription),
 * ingest into the store with an ack after each commit, the fleet registry, control and the HTTP API.
 * This composition root only wires: each room gets what it needs; cleanup runs in reverse order.
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
  const closers = new Closers(logger)
  try {
    const store = opts.store ?? (await openStore(config.store, clock))
    closers.add(() => store.close())
    if (config.retention) {
      const r = startRetention({
        store,
        clock,
        ...config.retention,
        logger: logger.child({ part: 'retention' }),
      })
      closers.add(() => r.stop())
    }
    const broker = await startCloudBroker(config.broker)
    closers.add(() => broker.close())
    const bus = new CloudBus()
    const metrics = createMetrics()
    const fleet = new Fleet(store, bus, clock, config.fleet.offlineAfter, config.fleet.sweepInterval)
    closers.add(await followReplicas({ store, bus, fleet, logger }))
    const ingest = await startIngest(
      { store, bus, fleet, clock, logger, metrics },
      config,
      broker.internalUrl,
      broker.internal,
    )
    closers.add(() => ingest.close())
    fleet.start((err) => logger.warn({ err: (err as Error).message }, 'fleet sweep failed'))
    closers.add(() => fleet.stop())
    const control = await startControl({
      config,
      store,
      fleet,
      bus,
      clock,
      logger: logger.child({ part: 'control' }),
      publish: ingest.publish,
    })
    closers.add(() => control.close())
    const { api, access } = await startHttp(config, opts, closers, {
      store,
      fleet,
      bus,
      metrics,
      clock,
      logger,
      brokerConnected: ingest.connected,
      rooms: [control.room],
    })
    logger.info({ brokerUrl: broker.url, httpUrl: api.url, store: store.kind }, 'cloud started')
    return {
      brokerUrl: broker.url,
      httpUrl: api.url,
      store,
      fleet,
      bus,
      config,
      embeddedBroker: broker.embedded,
      tokens: access.tokens,
      stop: () => closers.close(),
    }
  } catch (err) {
    await closers.close()
    throw err
  }
}

/** The access repo (tokens, audit) and the HTTP API with every room, both closed by `closers`. */
async function startHttp(
  config: CloudConfig,
  opts: CloudOptions,
  closers: Closers,
  parts: Omit<ApiDeps, 'access' | 'sseHeartbeatMs' | 'demo' | 'dashboardRoot'>,
): Promise<{ api: Api; access: AccessParts }> {
  const repo = await openAccessRepo(config.store)
  closers.add(() => repo.close())
  const access = createAccess(repo, parts.clock)
  const api = await startApi(
    {
      ...parts,
      access,
      sseHeartbeatMs: config.http.sseHeartbeat,
      demo: opts.demo,
      dashboardRoot: opts.dashboardRoot,
    },
    config.http,
  )
  closers.add(() => api.close())
  return { api, access }
}
