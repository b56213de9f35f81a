import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  truncateSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { type Clock, FoglineError, systemClock } from '@fogline/protocol'
import { CLEAR, HeldIds, HOLD, idPayload, RELEASE } from './held-ids.js'
import {
  crc32,
  FIXED,
  GROUP,
  GROUP_BUFFER,
  grouped,
  journalError,
  type OnRecord,
  REC,
  readSegments,
  type Segment,
  scan,
  segmentFiles,
} from './segments.js'

export { readJournal } from './segments.js'

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
  /** appends within this many ms share one write */
  commitInterval?: number
  /** commit at once when this many readings are queued */
  commitMaxRecords?: number
  /** seqs start above this (the position a checkpoint already holds), so a lost tail is never reused */
  seqFloor?: number
  clock?: Clock
}

/**
 * An append-only segmented log, not an SQLite table: every group commit costs the bytes of its records and
 * nothing more (SQLite WAL appends at least one page per commit: 570–1,250 bytes per reading at 1,000
 * readings/s, measured; see docs/delivery.md). A checkpoint rotates the segment; segments wholly covered by
 * a checkpoint are deleted. A torn tail (power cut) is found by length and CRC and cut off at open.
 */
class SegmentJournal implements IngestJournal {
  private readonly clock: Clock
  private readonly interval: number
  private readonly maxRecords: number
  private readonly full: boolean
  private readonly closedSegs: Segment[] = []
  private cur!: Segment
  private fd = -1
  private lastSeq: number
  private truncateTo = 0
  private appended = 0
  private commits = 0
  private bytes = 0
  private closed = false
  private timer: unknown = null
  /** records of the batch, encoded into one buffer (no allocation per reading while it has room) */
  private buf = Buffer.allocUnsafe(GROUP_BUFFER)
  /** bytes of the group being built, its 8-byte head included (filled at the commit) */
  private used = GROUP
  private done: Committed[] = []
  /** bytes in the current segment */
  private size = 0
  /** QoS 2 packet ids held, per client */
  private readonly ids = new HeldIds()

  constructor(private readonly opts: OpenJournalOptions) {
    this.clock = opts.clock ?? systemClock
    this.interval = opts.commitInterval ?? 2
    this.maxRecords = opts.commitMaxRecords ?? 4096
    this.full = opts.synchronous === 'FULL'
    mkdirSync(opts.dir, { recursive: true })
    let last = 0
    for (const n of segmentFiles(opts.dir)) {
      const path = join(opts.dir, n)
      const buf = readFileSync(path)
      const s = scan(buf, grouped(path), (seq, kind, clientId, id) => {
        if (seq === 0) this.ids.applyRecord(kind, clientId, id)
      })
      // a torn or damaged tail is cut off: nothing after it was ever acknowledged as a whole
      if (s.good < buf.length) truncateSync(path, s.good)
      const first = Number.parseInt(n, 10)
      // an empty segment still says where numbering stood
      if (s.good === 0) {
        unlinkSync(path)
        last = Math.max(last, first - 1)
      } else {
        // a segment of id records only (no reading) ends where it began
        this.closedSegs.push({ path, first, last: Math.max(s.last, first - 1) })
        last = Math.max(last, s.last, first - 1)
      }
    }
    this.lastSeq = Math.max(last, opts.seqFloor ?? 0)
    // a last segment of id records only is carried on (a new one would take its name)
    const tail = this.closedSegs.at(-1)
    if (tail && tail.first === this.lastSeq + 1 && grouped(tail.path)) {
      this.closedSegs.pop()
      this.cur = tail
      this.fd = openSync(tail.path, 'a')
      this.size = readFileSync(tail.path).length
    } else this.openSegment()
  }

  private openSegment(): void {
    const first = this.lastSeq + 1
    const path = join(this.opts.dir, `${String(first).padStart(16, '0')}.jnl`)
    this.fd = openSync(path, 'a')
    this.cur = { path, first, last: first - 1 }
    this.size = 0
    if (this.full) this.syncDir()
  }

  private syncDir(): void {
    const d = openSync(this.opts.dir, 'r')
    try {
      fsyncSync(d)
    } finally {
      closeSync(d)
    }
  }

  append(ts: number, topic: string, payload: Buffer, done: Committed): number {
    if (this.closed) {
      done(new FoglineError('FOG_INTERNAL', 'ingest journal is closed'))
      return this.lastSeq
    }
    const seq = ++this.lastSeq
    this.put(seq, ts, topic, payload)
    this.done.push(done)
    this.appended++
    // a full group is written now, but its acks wait until this append's caller returns: an ack lets aedes
    // read the next packet, whose append would otherwise run inside this one and take the position before it
    if (this.done.length >= this.maxRecords) this.commitThenAck()
    else this.schedule()
    return seq
  }

  /** encode one record into the group being built */
  private put(seq: number, ts: number, topic: string, payload: Buffer): void {
    // room for the topic at 3 bytes a UTF-16 unit (UTF-8's most), so it is encoded once, in place
    const most = REC + FIXED + topic.length * 3 + payload.length
    if (this.used + most > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + most))
      this.buf.copy(bigger, 0, 0, this.used)
      this.buf = bigger
    }
    const b = this.buf
    const r = this.used + REC
    const tl = b.write(topic, r + FIXED, 'utf8')
    const len = FIXED + tl + payload.length
    b.writeUInt32LE(len, r - REC)
    b.writeDoubleLE(seq, r)
    b.writeDoubleLE(ts, r + 8)
    b.writeUInt16LE(tl, r + 16)
    payload.copy(b, r + FIXED + tl)
    this.used = r + len
  }

  private schedule(): void {
    if (this.timer === null && !this.closed) this.timer = this.clock.setTimeout(this.flush, this.interval)
  }

  /** a QoS 2 id record, applied to the held ids and queued for the next commit */
  private putId(kind: number, clientId: string, messageId: number): void {
    this.put(0, kind, clientId, idPayload(kind, messageId))
    this.ids.apply(kind, clientId, messageId)
  }

  hold(clientId: string, messageId: number): void {
    if (this.closed) return
    this.putId(HOLD, clientId, messageId)
  }

  held(clientId: string, messageId: number): boolean {
    return this.ids.has(clientId, messageId)
  }

  release(clientId: string, messageId: number, done: Committed): void {
    if (this.closed || !this.held(clientId, messageId)) {
      done(null)
      return
    }
    this.putId(RELEASE, clientId, messageId)
    this.done.push(done)
    this.schedule()
  }

  clear(clientId: string): void {
    if (this.closed || !this.ids.hasClient(clientId)) return
    this.putId(CLEAR, clientId, 0)
    this.schedule()
  }

  sync(done: Committed): void {
    if (this.closed || this.used === GROUP) done(null)
    else this.done.push(done)
  }

  readonly flush = (): void => {
    const { done, err } = this.commit()
    for (let i = 0; i < done.length; i++) done[i]!(err)
  }

  appendNow(ts: number, topic: string, payload: Buffer): number {
    if (this.closed) throw new FoglineError('FOG_INTERNAL', 'ingest journal is closed')
    const seq = ++this.lastSeq
    this.put(seq, ts, topic, payload)
    this.appended++
    // the caller may be inside the engine: the acks of the group wait until it returns
    const err = this.commitThenAck()
    if (err) throw err
    return seq
  }

  /** commit the group now; its callbacks run in a microtask, after the caller returns */
  private commitThenAck(): Error | null {
    const { done, err } = this.commit()
    if (done.length > 0)
      queueMicrotask(() => {
        for (const d of done) d(err)
      })
    return err
  }

  /** write the group (and delete what a checkpoint covers); returns the group's callbacks and any error */
  private commit(): { done: Committed[]; err: Error | null } {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer)
      this.timer = null
    }
    const done = this.done
    if (this.used === GROUP && this.truncateTo === 0) return { done: [], err: null }
    this.done = []
    let err: Error | null = null
    try {
      if (this.used > GROUP) this.write()
      if (this.truncateTo > 0) this.dropCovered()
    } catch (e) {
      err = journalError(this.cur.path, e)
    }
    return { done, err }
  }

  private write(): void {
    const n = this.used
    this.used = GROUP
    const b = this.buf
    b.writeUInt32LE(n - GROUP, 0)
    b.writeUInt32LE(crc32(b.subarray(GROUP, n)), 4)
    let off = 0
    try {
      while (off < n) off += writeSync(this.fd, b, off, n - off)
      if (this.full) fdatasyncSync(this.fd)
    } catch (e) {
      // a partial group must not stay in front of later ones: cut the file back to where this one began
      try {
        truncateSync(this.cur.path, this.size)
      } catch {}
      throw e
    }
    // a burst (a stalled loop, sensors reconnecting at once) grows the buffer up to a group of maxRecords:
    // held for good, that was 512 KiB at 1,000 sensors (bench/node-rss.ts); the next group starts small again
    if (b.length > GROUP_BUFFER) this.buf = Buffer.allocUnsafe(GROUP_BUFFER)
    this.cur.last = this.lastSeq
    this.size += n
    this.bytes += n
    this.commits++
  }

  /** delete segments a checkpoint covers; rotate the current one so that it can be deleted by a later one */
  private dropCovered(): void {
    const upTo = this.truncateTo
    this.truncateTo = 0
    // a segment holding readings is closed, so that a later checkpoint can delete it
    if (this.cur.last >= this.cur.first) {
      closeSync(this.fd)
      this.closedSegs.push(this.cur)
      this.openSegment()
    }
    if (!this.closedSegs.some((s) => s.last <= upTo)) return
    // the ids still held are restated in the current segment before a segment that took them goes, and synced
    // even under NORMAL (only when ids are held): a power cut must not keep the delete and lose the restatement
    if (this.ids.size > 0) {
      for (const [clientId, m] of this.ids.entries()) this.put(0, HOLD, clientId, idPayload(HOLD, m))
      this.write()
      if (!this.full) fdatasyncSync(this.fd)
    }
    for (let i = this.closedSegs.length - 1; i >= 0; i--) {
      const s = this.closedSegs[i]!
      if (s.last <= upTo) {
        unlinkSync(s.path)
        this.closedSegs.splice(i, 1)
      }
    }
  }

  replay(afterSeq: number, fn: OnRecord): number {
    return readSegments(
      this.closedSegs.filter((s) => s.last > afterSeq).map((s) => s.path),
      afterSeq,
      fn,
    )
  }

  truncate(seq: number): void {
    if (seq <= this.truncateTo) return
    this.truncateTo = seq
    this.schedule()
  }

  stats(): JournalStats {
    return {
      appended: this.appended,
      commits: this.commits,
      pending: this.done.length,
      lastSeq: this.lastSeq,
      bytes: this.bytes,
      buffer: this.buf.length,
      held: this.ids.size,
    }
  }

  close(): void {
    if (this.closed) return
    this.flush()
    this.closed = true
    closeSync(this.fd)
  }
}

/**
 * Open (or create) the ingest journal in `dir`.
 * @example const j = openJournal({ dir: 'data/journal' }); j.append(Date.now(), 's/1/t', buf, (err) => ack(err))
 */
export function openJournal(opts: OpenJournalOptions): IngestJournal {
  return new SegmentJournal(opts)
}
