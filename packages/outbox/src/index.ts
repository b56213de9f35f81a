// The public API of @fogline/outbox: open the SQLite outbox, and the Outbox contract (types.ts holds only the
// contract: the interface, the types its methods take and return, and OUTBOX_STREAMS). Everything else (book,
// writer, scanner, degrader, rollup, sqliteError) is internal.
export { type OpenSqliteOutboxOptions, openSqliteOutbox } from './sqlite.js'
export * from './types.js'
