import { type Clock, systemClock } from '@fogline/protocol'
import Database from 'better-sqlite3'

export interface DeadLetterRow {
  ts: number
  topic: string
  pipelineId: string
  stage?: string | undefined
  code: string
  reason: string
  payload: string
}

/**
 * Bad readings set aside with their reason. Bounded: the table keeps the newest `max` rows and
 * `counts` keeps every one by code, so a flood of garbage costs a fixed amount of disk.
 * With the ingest journal, each flush also stores the journal position its rows reach (`journalPos`), so
 * a replay after a crash does not set aside a second time what was already stored.
 * Lifecycle: open → add* → close.
 */
export class DeadLetterStore {
  private readonly db: Database.Database
  private readonly insert: Database.Statement
  private readonly trim: Database.Statement
  private pending: DeadLetterRow[] = []
  private flushTimer: unknown = undefined
  readonly counts: Record<string, number> = {}
  total = 0
  /** journal position up to which every bad reading is stored (read at open, advanced by each flush) */
  journalPos = 0
  private pendingPos = 0

  /**
   * `synchronous` follows `outbox.synchronous`, as the ingest journal does: the journal deletes a segment once
   * a checkpoint covers it, and under FULL that checkpoint survives a power cut, so the bad readings in that
   * segment must too (test/faults/powercut.test.ts lost 40,288 of 40,576 PUBACKed bad readings when this was
   * always NORMAL).
   */
  constructor(
    path: string,
    private readonly max = 1000,
    private readonly clock: Clock = systemClock,
    synchronous: 'NORMAL' | 'FULL' = 'NORMAL',
  ) {
    this.db = new Database(path)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma(`synchronous = ${synchronous}`)
    this.db.exec(`CREATE TABLE IF NOT EXISTS dead_letters (
      id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, topic TEXT NOT NULL, pipeline TEXT NOT NULL,
      stage TEXT, code TEXT NOT NULL, reason TEXT NOT NULL, payload TEXT NOT NULL)`)
    this.db.exec('CREATE TABLE IF NOT EXISTS dead_letter_counts (code TEXT PRIMARY KEY, n INTEGER NOT NULL)')
    this.db.exec('CREATE TABLE IF NOT EXISTS dead_letter_meta (key TEXT PRIMARY KEY, v INTEGER NOT NULL)')
    const pos = this.db.prepare("SELECT v FROM dead_letter_meta WHERE key = 'journalPos'").pluck().get()
    this.journalPos = typeof pos === 'number' ? pos : 0
    for (const r of this.db.prepare('SELECT code, n FROM dead_letter_counts').all() as Array<{
      code: string
      n: number
    }>) {
      this.counts[r.code] = r.n
      this.total += r.n
    }
    this.insert = this.db.prepare(
      'INSERT INTO dead_letters (ts, topic, pipeline, stage, code, reason, payload) VALUES (?, ?, ?, ?, ?, ?, ?)',
    )
    this.trim = this.db.prepare('DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - ?')
  }

  /** housekeeping: delete stored rows older than `before` (epoch ms); counts stay; returns rows deleted */
  prune(before: number): number {
    this.flush()
    return this.db.prepare('DELETE FROM dead_letters WHERE ts < ?').run(before).changes
  }

  /** The ingest journal was removed: positions stored so far mean nothing to a later one. */
  forgetJournalPos(): void {
    this.journalPos = 0
    this.pendingPos = 0
    this.db.prepare("DELETE FROM dead_letter_meta WHERE key = 'journalPos'").run()
  }

  /** Set a bad reading aside; `journalPos` is the ingest journal's position of that reading (0 without one). */
  add(d: DeadLetterRow, journalPos = 0): void {
    if (journalPos > this.pendingPos) this.pendingPos = journalPos
    this.counts[d.code] = (this.counts[d.code] ?? 0) + 1
    this.total++
    // keep at most `max` rows in memory between flushes: a garbage flood must not grow the heap
    if (this.pending.length < this.max) this.pending.push(d)
    this.flushTimer ??= this.clock.setTimeout(() => this.flush(), 200)
  }

  flush(): void {
    if (this.flushTimer !== undefined) this.clock.clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    if (this.pending.length === 0 && this.pendingPos <= this.journalPos) return
    const rows = this.pending
    this.pending = []
    const pos = Math.max(this.journalPos, this.pendingPos)
    const upsert = this.db.prepare(
      'INSERT INTO dead_letter_counts (code, n) VALUES (?, ?) ON CONFLICT(code) DO UPDATE SET n = excluded.n',
    )
    this.db.transaction(() => {
      for (const d of rows)
        this.insert.run(d.ts, d.topic, d.pipelineId, d.stage ?? null, d.code, d.reason, d.payload)
      this.trim.run(this.max)
      for (const [code, n] of Object.entries(this.counts)) upsert.run(code, n)
      if (pos > this.journalPos)
        this.db
          .prepare(
            "INSERT INTO dead_letter_meta (key, v) VALUES ('journalPos', ?) ON CONFLICT(key) DO UPDATE SET v = excluded.v",
          )
          .run(pos)
    })()
    this.journalPos = pos
  }

  recent(limit = 50): DeadLetterRow[] {
    this.flush()
    return this.db
      .prepare(
        'SELECT ts, topic, pipeline AS pipelineId, stage, code, reason, payload FROM dead_letters ORDER BY id DESC LIMIT ?',
      )
      .all(limit) as DeadLetterRow[]
  }

  close(): void {
    this.flush()
    this.db.close()
  }
}
