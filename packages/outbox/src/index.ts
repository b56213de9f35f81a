export type { CompactResult } from './compact.js'
export { rollupSummaries } from './rollup.js'
export { type OpenSqliteOutboxOptions, openSqliteOutbox, sqliteError } from './sqlite.js'
export * from './types.js'
