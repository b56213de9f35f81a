import { type Clock, FoglineError, type OutboxConfig } from '@fogline/protocol'
import {
  applyDelta,
  type Book,
  bump,
  encodeState,
  insertRow,
  type Pending,
  synced,
  txnSmall,
  writeDelta,
} from './book.js'
import { GroupCommit } from './group-commit.js'
import { type CommitInfo, OUTBOX_STREAMS, type OutboxStream } from './types.js'

type Seqs = Array<{ stream: OutboxStream; seq: number }>

/** Map SQLite failures to coded errors: a full disk is FOG_DISK_FULL, nothing committed before is touched. */
export function sqliteError(err: unknown, what: string): FoglineError {
  if (err instanceof FoglineError) return err
  const code = (err as { code?: string }).code ?? ''
  if (code === 'SQLITE_FULL')
    return new FoglineError('FOG_DISK_FULL', `${what}: the disk or outbox file is full`, {}, { cause: err })
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB')
    return new FoglineError('FOG_OUTBOX_CORRUPT', `${what}: ${(err as Error).message}`, {}, { cause: err })
  return new FoglineError('FOG_INTERNAL', `${what}: ${(err as Error).message}`, {}, { cause: err })
}

/** write one batch's state; a lazy state function is called once per batch, when the batch is cut */
function writeState(
  book: Book,
  p: Pending,
  lazy: Map<() => Record<string, unknown>, Record<string, unknown>>,
) {
  let state = p.state
  if (typeof state === 'function') {
    const fn = state
    state = lazy.get(fn) ?? fn()
    lazy.set(fn, state)
  }
  if (state)
    for (const [k, v] of Object.entries(state)) {
      if (v === undefined) book.st.delState.run(k)
      else book.st.putState.run(k, encodeState(v))
    }
}

/** the group-commit transaction: rows, state, then TTL and capacity, so the file never grows past the cap */
function commitTxn(book: Book, enforce: (now: number) => void, clock: Clock) {
  return book.db.transaction((batch: Pending[]) => {
    book.delta = {}
    const results: Seqs[] = []
    let n = 0
    // lazy state is read now, when the batch is cut: it then covers every record queued before it
    const lazy = new Map<() => Record<string, unknown>, Record<string, unknown>>()
    for (const p of batch) {
      const res: Seqs = []
      for (const it of p.items) {
        res.push({ stream: it.stream, seq: insertRow(book, it.stream, it.ts, it.priority, it.body) })
        n++
      }
      writeState(book, p, lazy)
      results.push(res)
    }
    bump(book, 'appended', n)
    if (n > 0) enforce(clock.now())
    for (const s of OUTBOX_STREAMS) book.st.upSeq.run(s, book.last.get(s)!)
    writeDelta(book)
    return results
  })
}

/** The write side: group commit of appends (telling listeners) and the ack transaction. */
export interface Writer {
  group: GroupCommit<Pending>
  listeners: Set<(c: CommitInfo) => void>
  commits(): number
  /** delete acked ranges; returns how many records left */
  ack(stream: OutboxStream, ranges: Array<[number, number]>): number
}

export function createWriter(
  book: Book,
  config: OutboxConfig,
  enforce: (now: number) => void,
  clock: Clock,
  commitClock: Clock,
): Writer {
  const commit = commitTxn(book, enforce, clock)
  let commits = 0
  const listeners = new Set<(c: CommitInfo) => void>()
  const commitBatch = (batch: Pending[]) => {
    const snapLast = new Map(book.last)
    const snapUsage = new Map([...book.usage].map(([k, v]) => [k, { ...v }]))
    let results: Seqs[]
    try {
      results = batch.some((p) => p.sync) ? synced(book, () => commit(batch)) : commit(batch)
      commits++
    } catch (err) {
      // the transaction rolled back: restore the in-memory view, so no seq is skipped or double-counted
      for (const [k, v] of snapLast) book.last.set(k, v)
      for (const [k, v] of snapUsage) book.usage.set(k, v)
      const e = sqliteError(err, 'outbox append')
      for (const p of batch) p.reject(e)
      return
    }
    applyDelta(book)
    let records = 0
    let urgent = false
    for (const [i, p] of batch.entries()) {
      records += p.items.length
      urgent ||= p.urgent
      p.resolve(results[i]!)
    }
    if (records > 0) for (const l of listeners) l({ records, urgent })
  }
  const group = new GroupCommit<Pending>(
    { interval: config.commitInterval, maxQueued: config.commitMaxRecords, clock: commitClock },
    commitBatch,
  )
  const ackTxn = txnSmall(book, (stream: OutboxStream, ranges: Array<[number, number]>) => {
    let n = 0
    for (const [a, b] of ranges) {
      // count and size first, then one range delete: cheaper than DELETE ... RETURNING row by row
      const [c, bytes] = book.st.sumRange.get(stream, a, b) as [number, number]
      if (c === 0) continue
      book.st.delRangeQuiet.run(stream, a, b)
      const u = book.usage.get(stream)!
      u.records -= c
      u.bytes -= bytes
      n += c
    }
    bump(book, 'acked', n)
  })
  const ack = (stream: OutboxStream, ranges: Array<[number, number]>) => {
    const before = book.counters.acked ?? 0
    try {
      ackTxn(stream, ranges)
    } catch (err) {
      book.delta = {}
      throw sqliteError(err, 'outbox ack')
    }
    applyDelta(book)
    return (book.counters.acked ?? 0) - before
  }
  return { group, listeners, commits: () => commits, ack }
}
