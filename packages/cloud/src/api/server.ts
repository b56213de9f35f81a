import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fastifyStatic from '@fastify/static'
import * as dashboard from '@fogline/dashboard'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import type { Logger } from 'pino'
import type { CloudBus } from '../bus.js'
import type { ControlContext } from '../context.js'
import { registerControlRoutes } from '../control/index.js'
import type { Fleet } from '../fleet.js'
import type { CloudMetrics } from '../metrics.js'
import type { Store } from '../store/types.js'
import { installErrorHandlers } from './errors.js'
import { openApiDocument } from './openapi.js'
import { type DemoHooks, registerRoutes } from './routes.js'
import { registerSse } from './sse.js'

export interface ApiDeps {
  store: Store
  fleet: Fleet
  bus: CloudBus
  metrics: CloudMetrics
  logger: Logger
  sseHeartbeatMs: number
  demo?: DemoHooks | undefined
  /** serve this folder instead of @fogline/dashboard's `dashboardRoot` */
  dashboardRoot?: string | undefined
  brokerConnected(): boolean
  /** built by the caller once the MQTT client exists; null = no control routes */
  control: Omit<ControlContext, 'onClose' | 'openapi'> | null
  onClose(fn: () => Promise<void> | void): void
}

const PLACEHOLDER = `<!doctype html><meta charset="utf-8"><title>Fogline cloud</title>
<h1>Fogline cloud</h1><p>The dashboard is not built into this install. The API is here:
<a href="/api/nodes">/api/nodes</a>, <a href="/api/summaries?limit=50">/api/summaries</a>,
<a href="/openapi.json">/openapi.json</a>, <a href="/metrics">/metrics</a>.</p>`

/** Fastify app: API routes, SSE, OpenAPI, metrics, the dashboard's static files, then CONTROL's routes. */
export async function buildApi(d: ApiDeps): Promise<{ app: FastifyInstance; closeStreams(): void }> {
  const app = Fastify({
    loggerInstance: d.logger.child({ part: 'api' }) as FastifyBaseLogger,
    // per-request lines would drown the log at info level; errors are still logged by the error handler
    logController: new LogController({ disableRequestLogging: true }),
    // stop() must not wait for keep-alive or SSE sockets
    forceCloseConnections: true,
  })
  installErrorHandlers(app)
  registerRoutes(app, {
    store: d.store,
    fleet: d.fleet,
    metrics: d.metrics,
    demo: d.demo,
    brokerConnected: d.brokerConnected,
  })
  const sse = registerSse(app, {
    bus: d.bus,
    fleet: d.fleet,
    metrics: d.metrics,
    heartbeatMs: d.sseHeartbeatMs,
  })
  const extraPaths: Record<string, unknown> = {}
  const extraSchemas: Record<string, unknown> = {}
  app.get('/openapi.json', async () => ({
    ...openApiDocument,
    paths: { ...openApiDocument.paths, ...extraPaths },
    components: { schemas: { ...openApiDocument.components.schemas, ...extraSchemas } },
  }))

  // the dashboard package may not export its folder yet (or not be built): serve a plain page then
  const root = d.dashboardRoot ?? (dashboard as { dashboardRoot?: unknown }).dashboardRoot
  if (typeof root === 'string' && existsSync(join(root, 'index.html'))) {
    // uPlot straight from node_modules, so the page works even where the build did not copy it to public/vendor
    for (const [url, file] of Object.entries(dashboard.vendorFiles)) {
      const type = file.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8'
      app.get(url, async (_req, reply) =>
        reply.type(type).header('cache-control', 'max-age=3600').send(readFileSync(file)),
      )
    }
    await app.register(fastifyStatic, { root, prefix: '/', index: ['index.html'] })
  } else {
    app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(PLACEHOLDER))
  }

  const openapi = {
    add(paths: Record<string, unknown>, schemas: Record<string, unknown> = {}) {
      Object.assign(extraPaths, paths)
      Object.assign(extraSchemas, schemas)
    },
  }
  if (d.control) await registerControlRoutes(app, { ...d.control, onClose: d.onClose, openapi })
  return { app, closeStreams: sse.closeAll }
}
