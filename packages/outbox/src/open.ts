import { closeSync, existsSync, openSync, readSync, renameSync, statSync } from 'node:fs'
import Database from 'better-sqlite3'

const HEADER = Buffer.from('SQLite format 3\u0000', 'latin1')
export const APP_ID = 0x464f474c // 'FOGL' in the database header's application_id

export type Db = Database.Database

/** Why the file at `path` cannot be used, or null when it looks sound (or does not exist). */
export function checkFile(path: string, check: 'quick' | 'full' | 'off'): string | null {
  if (!existsSync(path)) return null
  const size = statSync(path).size
  if (size === 0) return null
  if (size < 100) return `file is ${size} bytes, shorter than an SQLite header`
  const head = Buffer.alloc(100)
  const fd = openSync(path, 'r')
  try {
    readSync(fd, head, 0, 100, 0)
  } finally {
    closeSync(fd)
  }
  if (!head.subarray(0, 16).equals(HEADER)) return 'file does not start with the SQLite header'
  let db: Db | undefined
  try {
    db = new Database(path, { fileMustExist: true })
    const appId = db.pragma('application_id', { simple: true }) as number
    if (appId !== 0 && appId !== APP_ID)
      return `application_id 0x${appId.toString(16)} is not a Fogline outbox`
    if (check !== 'off') {
      const rows = db.pragma(check === 'full' ? 'integrity_check(20)' : 'quick_check(20)') as Array<
        Record<string, string>
      >
      const msgs = rows.map((r) => Object.values(r)[0])
      if (msgs.length !== 1 || msgs[0] !== 'ok') return `${check}_check: ${msgs.slice(0, 3).join('; ')}`
    }
    // the tables must be readable, not only the b-tree structure
    db.prepare('SELECT count(*) FROM sqlite_master').get()
    return null
  } catch (err) {
    // only a damaged file is moved aside; a lock, a permission or an I/O error must not cost a healthy file
    const code = String((err as { code?: unknown }).code ?? '')
    if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')
      return `cannot open: ${(err as Error).message}`
    throw err
  } finally {
    db?.close()
  }
}

/** Move a corrupt file and its -wal/-shm aside (never delete them); returns the new path. */
export function quarantine(path: string, now: number): string {
  const to = `${path}.corrupt-${now}`
  renameSync(path, to)
  for (const sfx of ['-wal', '-shm', '-journal']) {
    if (existsSync(path + sfx)) renameSync(path + sfx, to + sfx)
  }
  return to
}

/** Best effort: the highest seq any stream reached in a quarantined file, or 0. */
export function salvageMaxSeq(path: string): number {
  let db: Db | undefined
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
    let max = 0
    try {
      const r = db.prepare('SELECT max(last_seq) AS m FROM seqs').get() as { m: number | null }
      max = Math.max(max, r.m ?? 0)
    } catch {}
    try {
      const r = db.prepare('SELECT max(seq) AS m FROM records').get() as { m: number | null }
      max = Math.max(max, r.m ?? 0)
    } catch {}
    return max
  } catch {
    return 0
  } finally {
    try {
      db?.close()
    } catch {}
  }
}

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seqs (stream TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, sent TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS records (
  stream TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, priority INTEGER NOT NULL,
  bytes INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
`

/** The statements of the outbox, prepared once. */
export type Statements = Record<
  | 'insRec'
  | 'upSeq'
  | 'upSent'
  | 'putState'
  | 'delState'
  | 'getState'
  | 'count'
  | 'read'
  | 'readRaw'
  | 'sumRange'
  | 'delRangeQuiet'
  | 'headMeta'
  | 'delOne'
  | 'oldest',
  Database.Statement
>

export function prepareStatements(db: Db): Statements {
  return {
    insRec: db.prepare(
      'INSERT INTO records (stream, seq, ts, priority, bytes, body) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    upSeq: db.prepare(
      'INSERT INTO seqs (stream, last_seq) VALUES (?, ?) ON CONFLICT(stream) DO UPDATE SET last_seq = excluded.last_seq',
    ),
    upSent: db.prepare('UPDATE seqs SET sent = ? WHERE stream = ?'),
    putState: db.prepare(
      'INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    ),
    delState: db.prepare('DELETE FROM state WHERE key = ?'),
    getState: db.prepare('SELECT value FROM state WHERE key = ?').pluck(),
    count: db.prepare(
      'INSERT INTO counters (name, n) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET n = n + excluded.n',
    ),
    read: db.prepare(
      'SELECT seq, ts, priority, bytes, body FROM records WHERE stream = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?',
    ),
    readRaw: db
      .prepare(
        'SELECT seq, ts, priority, bytes, body FROM records WHERE stream = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?',
      )
      .raw(),
    sumRange: db
      .prepare(
        'SELECT count(*), coalesce(sum(bytes), 0) FROM records WHERE stream = ? AND seq BETWEEN ? AND ?',
      )
      .raw(),
    delRangeQuiet: db.prepare('DELETE FROM records WHERE stream = ? AND seq BETWEEN ? AND ?'),
    headMeta: db.prepare(
      'SELECT seq, ts, bytes FROM records WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ?',
    ),
    delOne: db.prepare('DELETE FROM records WHERE stream = ? AND seq = ? RETURNING bytes'),
    oldest: db.prepare('SELECT seq, ts FROM records WHERE stream = ? ORDER BY seq LIMIT 1'),
  }
}
