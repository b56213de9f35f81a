export { MIGRATIONS, type Migration, SCHEMA_VERSION } from './migrations.js'
export { openStore } from './open.js'
export { openPostgresStore, type PostgresStoreOptions } from './postgres.js'
export { queryStore } from './query.js'
export { type RetentionResult, retentionSql, startRetention } from './retention.js'
export {
  numbered,
  openSidePostgres,
  openSideSqlite,
  pgSideRun,
  type SideRow,
  type SideRun,
  sqliteSideRun,
  storeFailed,
} from './side-tables.js'
export { openSqliteStore } from './sqlite.js'
export * from './types.js'
