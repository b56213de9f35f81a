import type { ServerResponse } from 'node:http'
import type { Clock } from '@fogline/protocol'
import type { FastifyInstance } from 'fastify'
import type { Fleet } from '../fleet/index.js'
import type { CloudBus, CloudMetrics, NodeView } from '../shared/index.js'
import type { EventRow, SummaryRow } from '../store/index.js'
import { idParam, onlyKeys } from './params.js'

/** A client that cannot keep up is dropped past this many unsent bytes (it reconnects and re-reads). */
const MAX_BUFFERED = 1024 * 1024

/**
 * GET /api/stream: server-sent events `summary`, `event`, `node` (data = the row as JSON).
 * On connect every known node is sent once; a comment line every `heartbeatMs` keeps proxies from closing it.
 * Lifecycle per client: open → listeners on the bus → client close (or cloud stop) → listeners removed.
 */
export function registerSse(
  app: FastifyInstance,
  deps: { bus: CloudBus; fleet: Fleet; metrics: CloudMetrics; clock: Clock; heartbeatMs: number },
): { closeAll(): void } {
  const open = new Set<() => void>()
  app.get('/api/stream', async (req, reply) => {
    const q = req.query as Record<string, unknown>
    onlyKeys(q, ['node', 'ticket'])
    const node = idParam(q, 'node')
    const nodes = await deps.fleet.list()
    reply.hijack()
    const res: ServerResponse = reply.raw
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    res.socket?.setNoDelay(true)
    let closed = false
    const send = (event: string, data: unknown) => {
      if (closed) return
      if (res.writableLength > MAX_BUFFERED) return close()
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    }
    const onSummary = (r: SummaryRow) => (node === undefined || r.nodeId === node) && send('summary', r)
    const onEvent = (r: EventRow) => (node === undefined || r.nodeId === node) && send('event', r)
    const onNode = (v: NodeView) => (node === undefined || v.nodeId === node) && send('node', v)
    const ping = deps.clock.setInterval(
      () => !closed && res.write(`: ping ${deps.clock.now()}\n\n`),
      deps.heartbeatMs,
    )
    ;(ping as { unref?: () => void } | null)?.unref?.() // a ping never keeps a process alive
    const close = () => {
      if (closed) return
      closed = true
      deps.clock.clearInterval(ping)
      deps.bus.off('summary', onSummary)
      deps.bus.off('event', onEvent)
      deps.bus.off('node', onNode)
      open.delete(close)
      deps.metrics.sseClients.dec()
      res.end()
    }
    open.add(close)
    deps.metrics.sseClients.inc()
    req.raw.on('close', close)
    res.on('error', close)
    res.write('retry: 2000\n: connected\n\n')
    for (const v of nodes) onNode(v)
    deps.bus.on('summary', onSummary)
    deps.bus.on('event', onEvent)
    deps.bus.on('node', onNode)
  })
  return {
    closeAll() {
      for (const c of [...open]) c()
    },
  }
}
