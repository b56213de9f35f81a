import type { FastifyInstance } from 'fastify'
import type { Fleet } from '../fleet/index.js'
import { type CloudMetrics, noteAudit } from '../shared/index.js'
import type { Store } from '../store/index.js'
import { badRequest, notFound } from './errors.js'
import { fitGaussian } from './models.js'
import { checkRange, durationParam, idParam, limitParam, onlyKeys, textParam, timeParam } from './params.js'

export interface DemoHooks {
  setLink(nodeId: string, up: boolean): Promise<void> | void
}

export interface RouteDeps {
  store: Store
  fleet: Fleet
  metrics: CloudMetrics
  demo?: DemoHooks | undefined
  /** true while the ingest MQTT client is connected */
  brokerConnected(): boolean
}

type Q = Record<string, unknown>

/** The read API over the store and the fleet registry (see openapi.ts for the document). */
export function registerRoutes(app: FastifyInstance, d: RouteDeps): void {
  fleetRoutes(app, d)
  recordRoutes(app, d)
  app.get('/api/models/fit', async (req) => fitModel(d.store, req.query as Q))
  opsRoutes(app, d)
}

/** Liveness and the fleet. */
function fleetRoutes(app: FastifyInstance, d: RouteDeps): void {
  app.get('/api/health', async () => {
    const nodes = await d.fleet.list()
    return {
      ok: true,
      store: d.store.kind,
      brokerConnected: d.brokerConnected(),
      nodes: nodes.length,
      online: nodes.filter((n) => n.online).length,
    }
  })

  app.get('/api/nodes', async (req) => {
    onlyKeys(req.query as Q, [])
    const nodes = await d.fleet.list()
    d.metrics.nodesKnown.set(nodes.length)
    d.metrics.nodesOnline.set(nodes.filter((n) => n.online).length)
    return nodes
  })

  app.get('/api/nodes/:id', async (req) => {
    const id = idParam(req.params as Q, 'id')!
    const v = await d.fleet.get(id)
    if (!v) throw notFound(`no node "${id}" has reported yet`, { nodeId: id })
    return v
  })
}

/** Stored summaries, events and dead letters. */
/** `from` and `to` of a query, checked to be in order */
function rangeParams(q: Q): { from: number | undefined; to: number | undefined } {
  const from = timeParam(q, 'from')
  const to = timeParam(q, 'to')
  checkRange(from, to)
  return { from, to }
}

function recordRoutes(app: FastifyInstance, d: RouteDeps): void {
  app.get('/api/summaries', async (req) => {
    const q = req.query as Q
    onlyKeys(q, ['node', 'sensor', 'metric', 'pipeline', 'from', 'to', 'resolution', 'limit'])
    const { from, to } = rangeParams(q)
    return d.store.querySummaries({
      nodeId: idParam(q, 'node'),
      sensorId: textParam(q, 'sensor'),
      metric: textParam(q, 'metric'),
      pipelineId: textParam(q, 'pipeline'),
      from,
      to,
      resolution: durationParam(q, 'resolution'),
      limit: limitParam(q),
    })
  })

  app.get('/api/events', async (req) => {
    const q = req.query as Q
    onlyKeys(q, ['node', 'sensor', 'from', 'to', 'limit'])
    const { from, to } = rangeParams(q)
    return d.store.queryEvents({
      nodeId: idParam(q, 'node'),
      sensorId: textParam(q, 'sensor'),
      from,
      to,
      limit: limitParam(q),
    })
  })

  app.get('/api/deadletters', async (req) => {
    const q = req.query as Q
    onlyKeys(q, ['node', 'limit'])
    return d.store.listDeadLetters({ nodeId: idParam(q, 'node'), limit: limitParam(q) })
  })
}

/** The demo's link switch and Prometheus metrics. */
function opsRoutes(app: FastifyInstance, d: RouteDeps): void {
  app.post('/api/demo/nodes/:id/link', async (req) => {
    const id = idParam(req.params as Q, 'id')!
    if (!d.demo) throw notFound('demo controls are only available under `fogline demo`', { path: req.url })
    const body = req.body as { up?: unknown } | undefined
    if (!body || typeof body.up !== 'boolean')
      throw badRequest('body must be JSON {"up": true|false}', 'body.up')
    noteAudit(req, { target: `node:${id}:${body.up ? 'up' : 'cut'}` })
    await d.demo.setLink(id, body.up)
    return { nodeId: id, up: body.up }
  })

  app.get('/metrics', async (_req, reply) => {
    const nodes = await d.fleet.list()
    d.metrics.nodesKnown.set(nodes.length)
    d.metrics.nodesOnline.set(nodes.filter((n) => n.online).length)
    reply.header('content-type', d.metrics.registry.contentType)
    return d.metrics.registry.metrics()
  })
}

/**
 * A gaussian anomaly model per sensor from stored summaries (with a stddev or variance aggregate), ready to
 * push as desired state `models: { name: <this> }`.
 */
async function fitModel(store: Store, q: Q) {
  onlyKeys(q, ['node', 'sensor', 'metric', 'pipeline', 'from', 'to', 'k'])
  const metric = textParam(q, 'metric')
  if (!metric) throw badRequest('metric is required (the model is fitted per metric)', 'metric')
  const k = q.k === undefined ? 4 : Number(q.k)
  if (!(k > 0) || !Number.isFinite(k)) throw badRequest(`k must be a positive number, got "${q.k}"`, 'k')
  const from = timeParam(q, 'from')
  const to = timeParam(q, 'to')
  checkRange(from, to)
  const rows = await store.querySummaries({
    nodeId: idParam(q, 'node'),
    sensorId: textParam(q, 'sensor'),
    metric,
    pipelineId: textParam(q, 'pipeline'),
    from,
    to,
    limit: 100_000,
  })
  const fit = fitGaussian(rows, { k })
  if (fit.used === 0)
    throw badRequest(
      rows.length === 0
        ? `no summaries of metric "${metric}" match`
        : `${rows.length} summaries of metric "${metric}" match, but none has a stddev or variance aggregate: add one to the window`,
      'metric',
    )
  return fit
}
