import type Database from 'better-sqlite3'

/** What one compaction step did. */
export interface CompactResult {
  /** 'incremental' when the file supports it (created by this version); 'none' for older files */
  mode: 'incremental' | 'none'
  pageSize: number
  /** free pages in the file before the step, and how many the step gave back to the file system */
  freePagesBefore: number
  pagesFreed: number
  fileBytesBefore: number
  fileBytesAfter: number
}

/**
 * One bounded compaction step: `PRAGMA incremental_vacuum(n)` moves at most n pages from the end of the
 * file into free slots and truncates the file, then a WAL checkpoint writes them home. So one step writes
 * at most about 2 × maxBytes (each moved page once to the WAL, once to the file) plus a few pointer-map
 * pages, whatever the file size; a full VACUUM would rewrite the whole file twice. Files created before
 * auto_vacuum=INCREMENTAL (mode 'none') are left alone: turning it on needs that full VACUUM once.
 */
export function compactDb(db: Database.Database, maxBytes: number): CompactResult {
  const pageSize = db.pragma('page_size', { simple: true }) as number
  const pages = () => db.pragma('page_count', { simple: true }) as number
  const free = db.pragma('freelist_count', { simple: true }) as number
  const before = pages() * pageSize
  const mode = (db.pragma('auto_vacuum', { simple: true }) as number) === 2 ? 'incremental' : 'none'
  if (mode === 'none' || free === 0)
    return {
      mode,
      pageSize,
      freePagesBefore: free,
      pagesFreed: 0,
      fileBytesBefore: before,
      fileBytesAfter: before,
    }
  db.pragma(`incremental_vacuum(${Math.max(1, Math.floor(maxBytes / pageSize))})`)
  db.pragma('wal_checkpoint(TRUNCATE)')
  const after = pages() * pageSize
  return {
    mode,
    pageSize,
    freePagesBefore: free,
    pagesFreed: free - (db.pragma('freelist_count', { simple: true }) as number),
    fileBytesBefore: before,
    fileBytesAfter: after,
  }
}
