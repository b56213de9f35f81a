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

function journalError(path: string, e: unknown): FoglineError {
  const where = { file: path }
  return (e as { code?: string }).code === 'SQLITE_FULL'
    ? new FoglineError('FOG_DISK_FULL', `ingest journal ${path}: the disk is full`, where)
    : new FoglineError('FOG_INTERNAL', `ingest journal ${path}: ${(e as Error).message}`, where)
}

const emptyBatch = (): Batch => ({ seqs: [], ts: [], topics: [], payloads: [], done: [] })

class SqliteJournal implements IngestJournal {
  private readonly db: Database.Database
  private readonly clock: Clock
  private readonly interval: number
  private readonly maxRecords: number
  private readonly write: (b: Batch, cut: number) => void
  private readonly replayStmt: Database.Statement
  private lastSeq: number
  private truncateTo = 0
  private appended = 0
  private commits = 0
  private closed = false
  private timer: unknown = null
  private batch = emptyBatch()

  constructor(private readonly opts: OpenJournalOptions) {
    this.clock = opts.clock ?? systemClock
    this.interval = opts.commitInterval ?? 2
    this.maxRecords = opts.commitMaxRecords ?? 4096
    const db = new Database(opts.path)
    this.db = db
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
    this.replayStmt = db
      .prepare('SELECT seq, ts, topic, payload FROM journal WHERE seq > ? ORDER BY seq')
      .raw()
    const maxSeq = (db.prepare('SELECT max(seq) AS m FROM journal').get() as { m: number | null }).m ?? 0
    this.lastSeq = Math.max(maxSeq, opts.seqFloor ?? 0)
    const args: unknown[] = new Array(CHUNK * 4)
    this.write = db.transaction((b: Batch, cut: number) => {
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
  }

  append(ts: number, topic: string, payload: Buffer, done: Committed): number {
    if (this.closed) {
      done(new FoglineError('FOG_INTERNAL', 'ingest journal is closed'))
      return this.lastSeq
    }
    const seq = ++this.lastSeq
    const b = this.batch
    b.seqs.push(seq)
    b.ts.push(ts)
    b.topics.push(topic)
    b.payloads.push(payload)
    b.done.push(done)
    this.appended++
    if (b.seqs.length >= this.maxRecords) this.flush()
    else if (this.timer === null) this.timer = this.clock.setTimeout(this.flush, this.interval)
    return seq
  }

  readonly flush = (): void => {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer)
      this.timer = null
    }
    const b = this.batch
    const cut = this.truncateTo
    if (b.seqs.length === 0 && cut === 0) return
    this.batch = emptyBatch()
    this.truncateTo = 0
    let err: Error | null = null
    try {
      this.write(b, cut)
      this.commits++
    } catch (e) {
      err = journalError(this.opts.path, e)
      if (cut > this.truncateTo) this.truncateTo = cut
    }
    for (let i = 0; i < b.done.length; i++) b.done[i]!(err)
  }

  replay(afterSeq: number, fn: (seq: number, ts: number, topic: string, payload: Buffer) => void): number {
    let n = 0
    for (const [seq, ts, topic, payload] of this.replayStmt.iterate(afterSeq) as IterableIterator<
      [number, number, string, Buffer]
    >) {
      fn(seq, ts, topic, payload)
      n++
    }
    return n
  }

  truncate(seq: number): void {
    if (seq <= this.truncateTo) return
    this.truncateTo = seq
    if (this.timer === null && !this.closed) this.timer = this.clock.setTimeout(this.flush, this.interval)
  }

  stats(): JournalStats {
    return {
      appended: this.appended,
      commits: this.commits,
      pending: this.batch.seqs.length,
      lastSeq: this.lastSeq,
    }
  }

  close(): void {
    if (this.closed) return
    this.flush()
    this.closed = true
    this.db.close()
  }
}

/**
 * Open (or create) the ingest journal at `path` (its own SQLite file, WAL mode).
 * @example const j = openJournal({ path: 'data/ingest.db' }); j.append(Date.now(), 's/1/t', buf, (err) => ack(err))
 */
export function openJournal(opts: OpenJournalOptions): IngestJournal {
  return new SqliteJournal(opts)
}
