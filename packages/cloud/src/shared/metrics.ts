import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** Prometheus metrics of one cloud instance (own registry: several clouds may share a process in tests). */
export function createMetrics() {
  const registry = new Registry()
  const records = new Counter({
    name: 'fogline_cloud_records_total',
    help: 'Records received, by stream and result (inserted, duplicate, dead_lettered)',
    labelNames: ['stream', 'result'] as const,
    registers: [registry],
  })
  const batches = new Counter({
    name: 'fogline_cloud_batches_total',
    help: 'Up messages handled, by stream and result (stored, rejected, store_failed)',
    labelNames: ['stream', 'result'] as const,
    registers: [registry],
  })
  const commitSeconds = new Histogram({
    name: 'fogline_cloud_commit_seconds',
    help: 'Time from receiving a batch to its ack being published',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  })
  const nodesOnline = new Gauge({
    name: 'fogline_cloud_nodes_online',
    help: 'Nodes currently online',
    registers: [registry],
  })
  const nodesKnown = new Gauge({
    name: 'fogline_cloud_nodes_known',
    help: 'Nodes ever seen',
    registers: [registry],
  })
  const sseClients = new Gauge({
    name: 'fogline_cloud_sse_clients',
    help: 'Open /api/stream connections',
    registers: [registry],
  })
  return { registry, records, batches, commitSeconds, nodesOnline, nodesKnown, sseClients }
}

export type CloudMetrics = ReturnType<typeof createMetrics>
