import {
  type Clock,
  CloudConfig,
  type CloudConfigInput,
  LOG_REDACT,
  parseConfig,
  systemClock,
} from '@fogline/protocol'
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
import { startModels } from './models/index.js'
import {
  Closers,
  CloudBus,
  createMetrics,
  Readiness,
  type ReadyState,
  readinessRoom,
} from './shared/index.js'
import { openStoreRetrying, watchStore } from './startup.js'
import { type Store, startRetention } from './store/index.js'

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
  /** tries to open the store before giving up (default: until it opens, not ready meanwhile) */
  storeAttempts?: number
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
  /** what GET /readyz answers: store reachable, subscribed, not stopping */
  readiness(): Promise<ReadyState>
  /** graceful: unsubscribe from the share, commit and ack what is held, then close everything */
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
  const logger = opts.logger ?? cloudLogger(config.log.level)
  const clock = opts.clock ?? systemClock
  const closers = new Closers(logger)
  const readiness = new Readiness()
  try {
    const opened = await openStorePart(config, opts, clock, logger, closers, readiness)
    const store = opened.store
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
    readiness.add(() => ingest.notReady())
    fleet.start((err) => logger.warn({ err: (err as Error).message }, 'fleet sweep failed'))
    closers.add(() => fleet.stop())
    const ctx = { config, store, fleet, bus, clock, publish: ingest.publish }
    const control = await startControl({ ...ctx, logger: logger.child({ part: 'control' }) })
    closers.add(() => control.close())
    const models = startModels({ ...ctx, logger: logger.child({ part: 'models' }) }, control)
    closers.add(() => models.close())
    const http = { ...config.http, port: opened.port ?? config.http.port }
    const { api, access } = await startHttp({ ...config, http }, opts, closers, {
      store,
      fleet,
      bus,
      metrics,
      clock,
      logger,
      brokerConnected: ingest.connected,
      rooms: [control.room, models.room, readinessRoom(readiness)],
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
      readiness: () => readiness.state(),
      stop: () => closers.close(),
    }
  } catch (err) {
    await closers.close()
    throw err
  }
}

/** The store (given, or opened with retries), its readiness watch and the retention job, closed by `closers`. */
async function openStorePart(
  config: CloudConfig,
  opts: CloudOptions,
  clock: Clock,
  logger: Logger,
  closers: Closers,
  readiness: Readiness,
) {
  const opened = opts.store
    ? { store: opts.store, port: null }
    : await openStoreRetrying(config, clock, logger, opts.storeAttempts)
  const store = opened.store
  closers.add(() => store.close())
  watchStore(readiness, store)
  const retention = config.retention
  if (retention)
    closers.add(
      startRetention({ store, clock, ...retention, logger: logger.child({ part: 'retention' }) }).stop,
    )
  return opened
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

/** JSON logs to stderr, secrets redacted (LOG_REDACT). */
function cloudLogger(level: string): Logger {
  return pino({ level, name: 'fogline-cloud', base: null, redact: LOG_REDACT }, pino.destination(2))
}
