// The public API of @fogline/outbox: open the SQLite outbox, and the Outbox contract with the types its
// methods take and return. Everything else (book, writer, scanner, degrader, rollup) is internal.
export { type OpenSqliteOutboxOptions, openSqliteOutbox } from './sqlite.js'
export {
  type AppendItem,
  type AppendState,
  type CommitInfo,
  type EncodedRecord,
  OUTBOX_STREAMS,
  type Outbox,
  type OutboxStats,
  type OutboxStream,
  type QuarantineInfo,
  type ReadOptions,
  type StoredRecord,
} from './types.js'
