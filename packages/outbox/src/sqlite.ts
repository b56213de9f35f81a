import {
  type Clock,
  FoglineError,
  OutboxConfig,
  type OutboxConfigInput,
  pack,
  systemClock,
} from '@fogline/protocol'
import Database from 'better-sqlite3'
import {
  type Book,
  bump,
  decodeState,
  defaultPriority,
  deleteSeq,
  type Encoded,
  insertRow,
  loadBook,
  type Row,
  totals,
} from './book.js'
import { compactDb } from './compact.js'
import { createDegrader } from './degrade.js'
import { APP_ID, checkFile, type Db, prepareStatements, quarantine, SCHEMA, salvageMaxSeq } from './open.js'
import { createScanner } from './read.js'
import {
  type EncodedRecord,
  OUTBOX_STREAMS,
  type Outbox,
  type OutboxStats,
  type OutboxStream,
  type QuarantineInfo,
  type ReadOptions,
  type StoredRecord,
} from './types.js'
import { createWriter, sqliteError, type Writer } from './write.js'

export interface OpenSqliteOutboxOptions {
  path: string
  config?: OutboxConfigInput
  clock?: Clock
  /**
   * the clock of group commit's interval; real time by default, also when `clock` is a test's fake clock:
   * committing is I/O pacing, and a stopped fake clock must not stall appends
   */
  commitClock?: Clock
  /** called when the file found at open was corrupt and has been moved aside */
  onCorrupt?: (info: QuarantineInfo) => void
  logger?: { warn(obj: object, msg?: string): void }
}

/** check the file, move a corrupt one aside (returning why), then open it with the outbox's pragmas */
function openFile(
  opts: OpenSqliteOutboxOptions,
  config: OutboxConfig,
  clock: Clock,
): { db: Db; quarantined: QuarantineInfo | null } {
  const path = opts.path
  let quarantined: QuarantineInfo | null = null
  let bad: string | null
  try {
    bad = checkFile(path, config.integrityCheck)
  } catch (err) {
    throw sqliteError(err, `outbox ${path} cannot be opened`)
  }
  if (bad) {
    const at = clock.now()
    const movedTo = quarantine(path, at)
    // a fresh file must not reuse seqs the cloud may hold already; µs since epoch is above any
    // seq reachable at < 1M records/s, and the salvaged max covers the rest
    const seqFloor = Math.max(salvageMaxSeq(movedTo), at * 1000)
    quarantined = { code: 'FOG_OUTBOX_CORRUPT', movedTo, reason: bad, seqFloor, at }
    opts.logger?.warn({ ...quarantined }, 'corrupt outbox moved aside; fresh outbox opened')
  }
  const db: Db = new Database(path)
  // a new file gets incremental vacuum (only settable before the first write), so housekeeping can give
  // free pages back in bounded steps; an existing file keeps what it has
  db.pragma('auto_vacuum = INCREMENTAL')
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${config.synchronous}`)
  db.pragma('journal_size_limit = 67108864')
  db.pragma(`application_id = ${APP_ID}`)
  const pageSize = db.pragma('page_size', { simple: true }) as number
  const maxFile = config.maxFileBytes ?? config.capacityBytes * 2 + 32 * 1024 * 1024
  db.pragma(`max_page_count = ${Math.max(16, Math.ceil(maxFile / pageSize))}`)
  db.exec(SCHEMA)
  return { db, quarantined }
}

/** TTL and capacity run inside the append transaction, on the book's rows */
function degraderOf(book: Book, config: OutboxConfig, opts: OpenSqliteOutboxOptions) {
  return createDegrader({
    config,
    usage: book.usage,
    sent: book.sent,
    totals: () => totals(book),
    deleteSeq: (s, seq, reason) => deleteSeq(book, s, seq, reason),
    bump: (name, n) => bump(book, name, n),
    headMeta: (s, after, n) => book.st.headMeta.all(s, after, n) as Array<{ seq: number; ts: number }>,
    oldestBodies: (after, n) => book.st.read.all('summary', after, Number.MAX_SAFE_INTEGER, n) as Row[],
    insertSummary: (ts, body) => void insertRow(book, 'summary', ts, defaultPriority('summary'), body),
    warn: (o, m) => opts.logger?.warn(o, m),
  })
}

function statsOf(book: Book, commits: number, quarantined: QuarantineInfo | null): OutboxStats {
  const byStream: OutboxStats['byStream'] = {}
  let oldestTs: number | null = null
  for (const s of OUTBOX_STREAMS) {
    const u = book.usage.get(s)!
    const head = u.records > 0 ? (book.st.oldest.get(s) as { ts: number } | undefined) : undefined
    const ts = head ? head.ts : null
    if (ts !== null && (oldestTs === null || ts < oldestTs)) oldestTs = ts
    byStream[s] = { records: u.records, bytes: u.bytes, oldestTs: ts, lastSeq: book.last.get(s)! }
  }
  const t = totals(book)
  const dropped: Record<string, number> = {}
  for (const [k, v] of Object.entries(book.counters)) if (k.startsWith('dropped:')) dropped[k.slice(8)] = v
  const c = book.counters
  return {
    ...t,
    byStream,
    oldestTs,
    dropped,
    appended: c.appended ?? 0,
    commits,
    acked: c.acked ?? 0,
    quarantined,
  }
}

/**
 * Open (or create) the SQLite outbox at `path`. A corrupt file is moved to `<path>.corrupt-<ts>` and a
 * fresh outbox opened whose seqs start above anything the old one could have sent.
 * Lifecycle: open → append → read → ack → close.
 * @example const ob = await openSqliteOutbox({ path: 'data/outbox.db', config: { synchronous: 'FULL' } })
 */
export async function openSqliteOutbox(opts: OpenSqliteOutboxOptions): Promise<Outbox> {
  const config = Object.freeze(OutboxConfig.parse(opts.config ?? {}))
  const clock = opts.clock ?? systemClock
  const { db, quarantined } = openFile(opts, config, clock)
  const book = loadBook(db, prepareStatements(db), quarantined, config.synchronous)
  const { enforce } = degraderOf(book, config, opts)
  const writer = createWriter(book, config, enforce, clock, opts.commitClock ?? systemClock)
  const outbox = outboxOf(book, writer, createScanner(book, config, clock), quarantined)
  if (quarantined) opts.onCorrupt?.(quarantined)
  return outbox
}

function outboxOf(
  book: Book,
  writer: Writer,
  scan: ReturnType<typeof createScanner>,
  quarantined: QuarantineInfo | null,
): Outbox {
  let closed = false
  const checkStream = (s: string): OutboxStream => {
    if (!book.usage.has(s as OutboxStream))
      throw new FoglineError('FOG_INTERNAL', `unknown outbox stream "${s}"`)
    return s as OutboxStream
  }
  const outbox: Outbox = {
    quarantined,
    append(items, o) {
      if (closed) return Promise.reject(new FoglineError('FOG_INTERNAL', 'outbox is closed'))
      let encoded: Encoded[]
      try {
        encoded = items.map((it) => ({
          stream: checkStream(it.stream),
          ts: it.ts,
          priority: it.priority ?? defaultPriority(it.stream),
          body: pack(it.body),
        }))
      } catch (err) {
        return Promise.reject(err)
      }
      // urgency is decided here, once: it sets when the batch commits and tells listeners to send at once
      const urgent = encoded.some((e) => e.priority === 0)
      return new Promise((resolve, reject) => {
        const p = { items: encoded, state: o?.state, urgent, sync: o?.sync === true, resolve, reject }
        writer.group.add(p, encoded.length, urgent)
      })
    },
    read(stream, afterSeq, max, maxBytes = Number.POSITIVE_INFINITY, ro: ReadOptions = {}) {
      return scan(checkStream(stream), afterSeq, max, maxBytes, ro, true) as StoredRecord[]
    },
    readEncoded(stream, afterSeq, max, maxBytes = Number.POSITIVE_INFINITY, ro: ReadOptions = {}) {
      return scan(checkStream(stream), afterSeq, max, maxBytes, ro, false) as EncodedRecord[]
    },
    ack(stream, seqs) {
      const s = checkStream(stream)
      if (seqs.length === 0) return 0
      const ranges: Array<[number, number]> =
        typeof seqs[0] === 'number'
          ? (seqs as number[]).map((q) => [q, q])
          : (seqs as ReadonlyArray<readonly [number, number]>).map(([a, b]) => [a, b])
      return writer.ack(s, ranges)
    },
    getState<T>(key: string): T | undefined {
      const v = book.st.getState.get(key) as Buffer | undefined
      return v === undefined ? undefined : (decodeState(v) as T)
    },
    async putState(key, value) {
      // what the node was told (desired config, keys): rare, and a power cut must not take it back
      await outbox.append([], { state: { [key]: value }, sync: true })
    },
    lastSeq: (stream) => book.last.get(checkStream(stream)) ?? 0,
    onCommit(listener) {
      writer.listeners.add(listener)
      return () => void writer.listeners.delete(listener)
    },
    stats: () => statsOf(book, writer.commits(), quarantined),
    compact: (maxBytes) => compactDb(book.db, maxBytes),
    async close() {
      if (closed) return
      writer.group.flush()
      closed = true
      try {
        book.db.pragma('wal_checkpoint(TRUNCATE)')
      } catch {}
      book.db.close()
    },
  }
  return outbox
}
