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
import { afterOrNextTurn, type Clock, FoglineError, systemClock } from '@fogline/protocol'
import type { Committed, IngestJournal, JournalStats, OpenJournalOptions } from './api.js'
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

export type { Committed, IngestJournal, JournalStats, OpenJournalOptions } from './api.js'
export { readJournal } from './segments.js'

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
  /** cancels the pending commit */
  private pending: (() => void) | null = null
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
    this.full = opts.synchronous === 'FULL'
    // unset: per turn; under FULL every 2 ms, which bounds the fdatasyncs (docs/decisions.md)
    this.interval = opts.commitInterval ?? (this.full ? 2 : 0)
    this.maxRecords = opts.commitMaxRecords ?? 4096
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
    const seq = this.queue(ts, topic, payload)
    this.done.push(done)
    // a full group is written now, but its acks wait until this append's caller returns: an ack lets aedes
    // read the next packet, whose append would otherwise run inside this one and take the position before it
    if (this.done.length >= this.maxRecords) this.commitThenAck()
    else this.schedule()
    return seq
  }

  /** a reading into the group being built, under the next seq */
  private queue(ts: number, topic: string, payload: Buffer): number {
    const seq = ++this.lastSeq
    this.put(seq, ts, topic, payload)
    this.appended++
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
    // interval 0: once per turn of the event loop (after its reads), not after a time
    if (this.pending === null && !this.closed)
      this.pending = afterOrNextTurn(this.clock, this.interval, this.flush)
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
    const seq = this.queue(ts, topic, payload)
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
    this.pending?.()
    this.pending = null
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
