import { type Clock, FoglineError, systemClock } from '@fogline/protocol'
import Database from 'better-sqlite3'

/** Called once the group commit holding a reading is on disk (err: it is not). */
export type Committed = (err?: Error | null) => void

/** Readings appended in one group-commit window, in columns (no object per reading). */
interface Batch {
  seqs: number[]
  ts: number[]
  topics: string[]
  payloads: Buffer[]
  done: Committed[]
}

export interface JournalStats {
  /** readings appended since open */
  appended: number
  /** group commits since open */
  commits: number
  /** readings waiting for the next commit */
  pending: number
  /** highest seq ever assigned */
  lastSeq: number
}

/**
 * The node's ingest journal: QoS 1 readings in arrival order, each with a position (`seq`), so that a
 * PUBACK can wait for disk and a restart can replay what the last pipeline checkpoint does not hold.
 * Lifecycle: open → (append → commit)* → truncate(upTo) at each checkpoint → close; replay after open.
 */
export interface IngestJournal {
  /**
   * Queue a reading for the next group commit and return its seq. `done` runs after that commit
   * (a callback, not a promise: this is the per-packet hot path, and aedes hands us a callback).
   */
  append(ts: number, topic: string, payload: Buffer, done: Committed): number
  /** readings after `afterSeq`, in seq order; returns how many */
  replay(afterSeq: number, fn: (seq: number, ts: number, topic: string, payload: Buffer) => void): number
  /** forget every reading up to and including `seq` (done with the next commit) */
  truncate(seq: number): void
  /** commit what is queued now */
  flush(): void
  stats(): JournalStats
  close(): void
}

export interface OpenJournalOptions {
  path: string
  /** NORMAL survives a process kill; FULL also a power cut (one fsync per group commit) */
  synchronous?: 'NORMAL' | 'FULL'
  /** appends within this many ms share one transaction */
  commitInterval?: number
  /** commit at once when this many readings are queued */
  commitMaxRecords?: number
  /** seqs start above this (the position a checkpoint already holds), so a lost tail is never reused */
  seqFloor?: number
  clock?: Clock
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS journal (
  seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL)`
/** rows per INSERT statement: one statement step per 16 readings instead of one per reading */
const CHUNK = 16

/**
 * Open (or create) the ingest journal at `path` (its own SQLite file, WAL mode).
 * @example const j = openJournal({ path: 'data/ingest.db' }); j.append(Date.now(), 's/1/t', buf, (err) => ack(err))
 */
export function openJournal(opts: OpenJournalOptions): IngestJournal {
  const clock = opts.clock ?? systemClock
  const interval = opts.commitInterval ?? 2
  const maxRecords = opts.commitMaxRecords ?? 4096
  const db = new Database(opts.path)
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`)
  // the journal is emptied at every checkpoint: keep the WAL file from growing past a few MiB
  db.pragma('journal_size_limit = 4194304')
  db.exec(SCHEMA)
  const one = db.prepare('INSERT INTO journal (seq, ts, topic, payload) VALUES (?, ?, ?, ?)')
  const many = db.prepare(
    `INSERT INTO journal (seq, ts, topic, payload) VALUES ${Array(CHUNK).fill('(?, ?, ?, ?)').join(', ')}`,
  )
  const del = db.prepare('DELETE FROM journal WHERE seq <= ?')
  const maxSeq = (db.prepare('SELECT max(seq) AS m FROM journal').get() as { m: number | null }).m ?? 0
  let lastSeq = Math.max(maxSeq, opts.seqFloor ?? 0)
  let truncateTo = 0
  let appended = 0
  let commits = 0
  let closed = false
  let timer: unknown = null
  const args: unknown[] = new Array(CHUNK * 4)
  const empty = (): Batch => ({ seqs: [], ts: [], topics: [], payloads: [], done: [] })
  let batch = empty()

  const write = db.transaction((b: Batch, cut: number) => {
    const n = b.seqs.length
    let i = 0
    for (; i + CHUNK <= n; i += CHUNK) {
      for (let k = 0; k < CHUNK; k++) {
        args[k * 4] = b.seqs[i + k]
        args[k * 4 + 1] = b.ts[i + k]
        args[k * 4 + 2] = b.topics[i + k]
        args[k * 4 + 3] = b.payloads[i + k]
      }
      many.run(args)
    }
    for (; i < n; i++) one.run(b.seqs[i], b.ts[i], b.topics[i], b.payloads[i])
    if (cut > 0) del.run(cut)
  })

  const flush = () => {
    if (timer !== null) {
      clock.clearTimeout(timer)
      timer = null
    }
    const b = batch
    const cut = truncateTo
    if (b.seqs.length === 0 && cut === 0) return
    batch = empty()
    truncateTo = 0
    let err: Error | null = null
    try {
      write(b, cut)
      commits++
    } catch (e) {
      const code = (e as { code?: string }).code
      err =
        code === 'SQLITE_FULL'
          ? new FoglineError('FOG_DISK_FULL', `ingest journal ${opts.path}: the disk is full`, {
              file: opts.path,
            })
          : new FoglineError('FOG_INTERNAL', `ingest journal ${opts.path}: ${(e as Error).message}`, {
              file: opts.path,
            })
      if (cut > truncateTo) truncateTo = cut
    }
    for (let i = 0; i < b.done.length; i++) b.done[i]!(err)
  }

  return {
    append(ts, topic, payload, done) {
      if (closed) {
        done(new FoglineError('FOG_INTERNAL', 'ingest journal is closed'))
        return lastSeq
      }
      const seq = ++lastSeq
      batch.seqs.push(seq)
      batch.ts.push(ts)
      batch.topics.push(topic)
      batch.payloads.push(payload)
      batch.done.push(done)
      appended++
      if (batch.seqs.length >= maxRecords) flush()
      else if (timer === null) timer = clock.setTimeout(flush, interval)
      return seq
    },
    replay(afterSeq, fn) {
      let n = 0
      const rows = db
        .prepare('SELECT seq, ts, topic, payload FROM journal WHERE seq > ? ORDER BY seq')
        .raw()
        .iterate(afterSeq) as IterableIterator<[number, number, string, Buffer]>
      for (const [seq, ts, topic, payload] of rows) {
        fn(seq, ts, topic, payload)
        n++
      }
      return n
    },
    truncate(seq) {
      if (seq <= truncateTo) return
      truncateTo = seq
      if (timer === null && !closed) timer = clock.setTimeout(flush, interval)
    },
    flush,
    stats: () => ({ appended, commits, pending: batch.seqs.length, lastSeq }),
    close() {
      if (closed) return
      flush()
      closed = true
      db.close()
    },
  }
}
