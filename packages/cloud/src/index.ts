// The public API of @fogline/cloud: start an aggregator, or open its store without one (CLI, scripts, benches).
export {
  type AuditRow,
  type DemoHooks,
  openAccessRepo,
  ROLES,
  type Role,
  type TokenRow,
  TokenService,
} from './api/index.js'
export type { EmbeddedBroker } from './broker/index.js'
export { type Cloud, type CloudOptions, startCloud } from './cloud.js'
export type { Fleet } from './fleet/index.js'
export type { ModelOutcome, TrainResult } from './models/index.js'
export type { CloudBus, CloudEvents, NodeView, ReadyState } from './shared/index.js'
export {
  type DeadLetterRow,
  type EventQuery,
  type EventRow,
  type HeartbeatBody,
  type InsertResult,
  MIGRATIONS,
  type MigrationResult,
  type NodeRow,
  openPostgresStore,
  openSqliteStore,
  openStore,
  type PostgresStoreOptions,
  queryStore,
  SCHEMA_VERSION,
  type Store,
  type StoreChange,
  type SummaryQuery,
  type SummaryRow,
} from './store/index.js'
