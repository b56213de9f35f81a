export { CloudBus, type CloudEvents, type NodeView } from './bus.js'
export { Closers } from './closers.js'
export {
  ApiRegistry,
  type AuditNote,
  ERROR_DATA_SCHEMA,
  ERROR_SCHEMA,
  type HttpRoom,
  noteAudit,
  type OpenApiEntries,
  oa,
} from './http.js'
export { type CloudMetrics, createMetrics } from './metrics.js'
export { Readiness, type ReadyCheck, type ReadyState, readinessRoom } from './readiness.js'
