import type { Clock } from '@fogline/protocol'

/** Called once the group commit holding a reading is written (err: it is not). */
export type Committed = (err?: Error | null) => void

export interface JournalStats {
  /** readings appended since open */
  appended: number
  /** group commits since open */
  commits: number
  /** readings waiting for the next commit */
  pending: number
  /** highest seq ever assigned */
  lastSeq: number
  /** bytes written since open */
  bytes: number
  /** bytes of the buffer a group is encoded into (64 KiB, more only while a burst's group is being built) */
  buffer: number
  /** QoS 2 packet ids taken and not yet released (PUBREL), over all clients */
  held: number
}

/**
 * The node's ingest journal: QoS 1 readings in arrival order, each with a position (`seq`), so that a
 * PUBACK can wait for the write and a restart can replay what the last pipeline checkpoint does not hold.
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
  /**
   * A QoS 2 packet id taken with the reading appended next (the same group commit): until `release` or
   * `clear`, a resend of it after a crash is known for what it is.
   */
  hold(clientId: string, messageId: number): void
  /** whether a QoS 2 packet id is held (taken, not released), in this process or one before it */
  held(clientId: string, messageId: number): boolean
  /** the PUBREL of a held id came: forget it; `done` runs after the commit holding that (at once when not held) */
  release(clientId: string, messageId: number, done: Committed): void
  /** a clean session began or ended: forget every id the client holds */
  clear(clientId: string): void
  /** `done` once everything queued so far is written (at once when nothing is) */
  sync(done: Committed): void
  /**
   * Journal a reading and commit it with everything queued, now (a QoS 0 reading whose event is about to
   * commit); returns its seq, throws when the commit failed. The acks of the group run in a microtask.
   */
  appendNow(ts: number, topic: string, payload: Buffer): number
  /** forget every reading up to and including `seq` (done with the next commit) */
  truncate(seq: number): void
  /** commit what is queued now */
  flush(): void
  stats(): JournalStats
  close(): void
}

export interface OpenJournalOptions {
  /** a folder of its own: segment files `<first seq>.jnl` */
  dir: string
  /** NORMAL: a commit is a write() (survives a process kill); FULL: write + fdatasync (survives a power cut) */
  synchronous?: 'NORMAL' | 'FULL'
  /**
   * appends within this many ms share one write; 0: those of one turn of the event loop (setImmediate).
   * Unset: 0 under NORMAL, 2 under FULL (each group is also an fdatasync: the interval bounds their number)
   */
  commitInterval?: number | undefined
  /** commit at once when this many readings are queued */
  commitMaxRecords?: number
  /** seqs start above this (the position a checkpoint already holds), so a lost tail is never reused */
  seqFloor?: number
  clock?: Clock
}
