import { decodeMessage, frameBody, msgpack, pack, STREAM_PRIORITY } from '@fogline/protocol'
import type { Db, Statements } from './open.js'
import { RangeSet } from './ranges.js'
import { type AppendState, OUTBOX_STREAMS, type OutboxStream, type QuarantineInfo } from './types.js'

/** per-row overhead added to the body size when counting capacity (key, header, cell pointer) */
export const ROW_OVERHEAD = 24

/** 0xc1 is the one byte MessagePack never uses: a state value starting with it is a codec v1 frame behind it */
const FRAMED = 0xc1
/** values above one SQLite page are framed and deflated (the engine snapshot: 180 KiB → 61 KiB at level 1, ~2 ms) */
const DEFLATE_OVER = 4096

/**
 * A `state` row's value: MessagePack, or — over a page — 0xc1 and the wire codec's frame of it (deflated at
 * level 1 when that pays; `frameBody`, `decodeMessage`: versioned, inflate bounded, errors coded). The pipeline
 * checkpoint is rewritten every `checkpoint.interval` and with every urgent event of a QoS 0 reading; each
 * rewrite costs its pages twice (WAL, then the database), so its size is flash wear (docs/decisions.md). Rows
 * written before (plain MessagePack) read as they are.
 */
export function encodeState(v: unknown): Buffer {
  const packed = pack(v)
  if (packed.length <= DEFLATE_OVER) return packed
  const framed = frameBody(packed, { deflate: 'auto', minDeflateBytes: 0, level: 1 })
  return Buffer.concat([Buffer.of(FRAMED), framed], framed.length + 1)
}

export function decodeState(b: Buffer): unknown {
  return b[0] === FRAMED ? decodeMessage(b.subarray(1)) : msgpack.unpack(b)
}

export interface Encoded {
  stream: OutboxStream
  ts: number
  priority: number
  body: Buffer
}
/** one append waiting for its group commit */
export interface Pending {
  items: Encoded[]
  state: AppendState | undefined
  urgent: boolean
  /** commit synced whatever `synchronous` says (putState: what the node was told, not what it made) */
  sync?: boolean
  resolve: (v: Array<{ stream: OutboxStream; seq: number }>) => void
  reject: (e: unknown) => void
}
export interface Row {
  seq: number
  ts: number
  priority: number
  bytes: number
  body: Buffer
}

export function defaultPriority(stream: OutboxStream): number {
  return stream === 'reported' ? 0 : STREAM_PRIORITY[stream]
}

/**
 * The outbox's in-memory view of its file: last seq, sent ranges and usage per stream, and the counters.
 * `delta` holds the counter increments of the running transaction, written at its end.
 */
export interface Book {
  readonly db: Db
  readonly st: Statements
  readonly last: Map<OutboxStream, number>
  readonly sent: Map<OutboxStream, RangeSet>
  readonly usage: Map<OutboxStream, { records: number; bytes: number }>
  readonly counters: Record<string, number>
  delta: Record<string, number>
  /** `synchronous` is FULL: every commit is synced already */
  readonly full: boolean
}

/** Read seqs, sent ranges, usage and counters from the file; a quarantine's seq floor is written first. */
export function loadBook(
  db: Db,
  st: Statements,
  quarantined: QuarantineInfo | null,
  synchronous: 'NORMAL' | 'FULL',
): Book {
  const full = synchronous === 'FULL'
  const book: Book = {
    db,
    st,
    last: new Map(),
    sent: new Map(),
    usage: new Map(),
    counters: {},
    delta: {},
    full,
  }
  for (const s of OUTBOX_STREAMS) {
    book.last.set(s, 0)
    book.sent.set(s, new RangeSet())
    book.usage.set(s, { records: 0, bytes: 0 })
  }
  if (quarantined) {
    db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(
      'quarantine',
      JSON.stringify(quarantined),
    )
    for (const s of OUTBOX_STREAMS) st.upSeq.run(s, quarantined.seqFloor)
  }
  for (const r of db.prepare('SELECT stream, last_seq, sent FROM seqs').all() as Array<{
    stream: OutboxStream
    last_seq: number
    sent: string
  }>) {
    book.last.set(r.stream, r.last_seq)
    book.sent.set(r.stream, new RangeSet(JSON.parse(r.sent) as Array<[number, number]>))
  }
  for (const r of db
    .prepare('SELECT stream, count(*) AS n, sum(bytes) AS b FROM records GROUP BY stream')
    .all() as Array<{ stream: OutboxStream; n: number; b: number }>) {
    book.usage.set(r.stream, { records: r.n, bytes: r.b })
    // a seq is never reused, even if the seqs row was lost: never below what is stored
    const m =
      (db.prepare('SELECT max(seq) FROM records WHERE stream = ?').pluck().get(r.stream) as number) ?? 0
    if (m > (book.last.get(r.stream) ?? 0)) book.last.set(r.stream, m)
  }
  for (const r of db.prepare('SELECT name, n FROM counters').all() as Array<{ name: string; n: number }>)
    book.counters[r.name] = r.n
  return book
}

export function bump(book: Book, name: string, n: number): void {
  if (n) book.delta[name] = (book.delta[name] ?? 0) + n
}
/** write the running transaction's counter increments (inside it) */
export function writeDelta(book: Book): void {
  for (const [k, v] of Object.entries(book.delta)) book.st.count.run(k, v)
}
/** after the transaction committed: fold its increments into the in-memory counters */
export function applyDelta(book: Book): void {
  for (const [k, v] of Object.entries(book.delta)) book.counters[k] = (book.counters[k] ?? 0) + v
  book.delta = {}
}
export function totals(book: Book): { records: number; bytes: number } {
  let records = 0
  let bytes = 0
  for (const u of book.usage.values()) {
    records += u.records
    bytes += u.bytes
  }
  return { records, bytes }
}
/** insert one row under the stream's next seq and count it */
export function insertRow(
  book: Book,
  stream: OutboxStream,
  ts: number,
  priority: number,
  body: Buffer,
): number {
  const seq = book.last.get(stream)! + 1
  book.last.set(stream, seq)
  const bytes = body.length + ROW_OVERHEAD
  book.st.insRec.run(stream, seq, ts, priority, bytes, body)
  const u = book.usage.get(stream)!
  u.records++
  u.bytes += bytes
  return seq
}
export function deleteSeq(book: Book, stream: OutboxStream, seq: number, reason: string | null): boolean {
  const r = book.st.delOne.get(stream, seq) as { bytes: number } | undefined
  if (!r) return false
  const u = book.usage.get(stream)!
  u.records--
  u.bytes -= r.bytes
  if (reason) bump(book, `dropped:${reason}`, 1)
  return true
}
/** a small transaction that writes its counter increments at its end */
export function txnSmall<A extends unknown[]>(book: Book, fn: (...a: A) => void): (...a: A) => void {
  return book.db.transaction((...a: A) => {
    book.delta = {}
    fn(...a)
    writeDelta(book)
  })
}
/**
 * Forget sent marks below the stream's oldest stored row and persist the rest, in a synced commit (`synced`).
 * This is the moment records are handed out to be sent: so the cloud never holds a record, nor a seq, that a
 * power cut can take from the outbox. Under NORMAL a cut did both (test/faults/powercut.test.ts): records made
 * after the power came back got the seqs of lost commits the cloud already held, and were dropped as
 * duplicates; and summaries the cloud held from lost commits were made again by the replay, under new seqs,
 * and counted twice. One fdatasync per batch sent; FULL syncs every commit anyway.
 */
export function persistSent(book: Book, s: OutboxStream): void {
  const head = book.st.oldest.get(s) as { seq: number } | undefined
  const ranges = book.sent.get(s)!
  ranges.pruneBelow(head ? head.seq : book.last.get(s)! + 1)
  synced(book, () => book.st.upSent.run(JSON.stringify(ranges), s))
}

/** Run `fn`'s commit synced whatever `synchronous` says; in WAL mode that makes every earlier commit durable too. */
export function synced<T>(book: Book, fn: () => T): T {
  if (book.full) return fn()
  book.db.pragma('synchronous = FULL')
  try {
    return fn()
  } finally {
    book.db.pragma('synchronous = NORMAL')
  }
}
