export { CloudBus, type CloudEvents, type NodeView } from './bus.js'
export { Closers } from './closers.js'
export { ApiRegistry, ERROR_SCHEMA, type HttpRoom, type OpenApiEntries, oa } from './http.js'
export { type CloudMetrics, createMetrics } from './metrics.js'
