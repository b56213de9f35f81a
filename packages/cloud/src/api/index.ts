import { readFileSync } from 'node:fs'
import { type Clock, FoglineError } from '@fogline/protocol'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import type { Logger } from 'pino'
import type { Fleet } from '../fleet/index.js'
import { ApiRegistry, type CloudBus, type CloudMetrics, type HttpRoom } from '../shared/index.js'
import type { Store } from '../store/index.js'
import { type AccessParts, authRoom, installGuard, rulesFrom } from './auth/index.js'
import { dashboardRules, serveDashboard } from './dashboard.js'
import { installErrorHandlers } from './errors.js'
import { API_INFO, apiOpenApi } from './openapi.js'
import { type DemoHooks, registerRoutes } from './routes.js'
import { registerSse } from './sse.js'

export {
  type AccessParts,
  type AccessRepo,
  type AuditRow,
  createAccess,
  openAccessRepo,
  openPostgresAccessRepo,
  openSqliteAccessRepo,
  ROLES,
  type Role,
  type TokenRow,
  TokenService,
} from './auth/index.js'
export type { DemoHooks } from './routes.js'

export interface ApiDeps {
  store: Store
  fleet: Fleet
  bus: CloudBus
  metrics: CloudMetrics
  clock: Clock
  logger: Logger
  sseHeartbeatMs: number
  demo?: DemoHooks | undefined
  /** serve this folder instead of @fogline/dashboard's `dashboardRoot` */
  dashboardRoot?: string | undefined
  brokerConnected(): boolean
  /** tokens, tickets and the failed-attempt limiter (see auth/) */
  access: AccessParts
  /** other rooms' routes (control), mounted after the read API */
  rooms: readonly HttpRoom[]
}

/** The HTTP API listening: its base URL and how to stop it. */
export interface Api {
  app: FastifyInstance
  /** e.g. http://127.0.0.1:8080 */
  url: string
  close(): Promise<void>
}

/**
 * Fastify app: the read API, SSE, metrics and the dashboard, then every other room's routes; GET /openapi.json
 * is built from the one registry they all went through. Lifecycle: startApi → requests → close.
 * @example const api = await startApi(deps, { host: '127.0.0.1', port: 0 }); fetch(`${api.url}/api/nodes`)
 */
export async function startApi(
  d: ApiDeps,
  listen: { host: string; port: number; tls?: { cert: string; key: string } | undefined },
): Promise<Api> {
  const app = Fastify({
    ...(listen.tls ? { https: readTls(listen.tls) } : {}),
    loggerInstance: d.logger.child({ part: 'api' }) as FastifyBaseLogger,
    // per-request lines would drown the log at info level; errors are still logged by the error handler
    logController: new LogController({ disableRequestLogging: true }),
    // stop() must not wait for keep-alive or SSE sockets
    forceCloseConnections: true,
  })
  installErrorHandlers(app)
  const registry = new ApiRegistry(API_INFO)
  let closeStreams = () => {}
  registry.add({
    name: 'api',
    openapi: apiOpenApi,
    routes(a) {
      registerRoutes(a, d)
      closeStreams = registerSse(a, { ...d, heartbeatMs: d.sseHeartbeatMs }).closeAll
      a.get('/openapi.json', async () => registry.document())
    },
  })
  registry.add(authRoom(d.access))
  for (const r of d.rooms) registry.add(r)
  // before any route is added: a route without a rule then fails the cloud's start
  installGuard(app, rulesFrom(registry.document(), dashboardRules()), {
    ...d.access,
    clock: d.clock,
    logger: d.logger,
    registry: d.metrics.registry,
    audit: (a) => d.access.repo.addAudit(a),
  })
  await registry.mount(app)
  await serveDashboard(app, d.dashboardRoot)
  try {
    await app.listen({ host: listen.host, port: listen.port })
  } catch (err) {
    await app.close()
    throw err
  }
  return {
    app,
    url: baseUrl(app, listen, listen.tls ? 'https' : 'http'),
    async close() {
      closeStreams()
      await app.close()
    },
  }
}

/** The API's PEM files; one that cannot be read is FOG_CONFIG_NOT_FOUND naming http.tls.cert or .key. */
function readTls(tls: { cert: string; key: string }): { cert: Buffer; key: Buffer } {
  const read = (which: 'cert' | 'key') => {
    try {
      return readFileSync(tls[which])
    } catch (cause) {
      throw new FoglineError(
        'FOG_CONFIG_NOT_FOUND',
        `cannot read ${tls[which]}: ${(cause as NodeJS.ErrnoException).code}`,
        { field: `http.tls.${which}` },
        { cause },
      )
    }
  }
  return { cert: read('cert'), key: read('key') }
}

function baseUrl(app: FastifyInstance, listen: { host: string; port: number }, scheme: string): string {
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr ? addr.port : listen.port
  const h = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host
  return `${scheme}://${h.includes(':') ? `[${h}]` : h}:${port}`
}
