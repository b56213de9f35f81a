import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  truncateSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import * as zlib from 'node:zlib'
import { type Clock, FoglineError, systemClock } from '@fogline/protocol'

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

// A segment file `<first seq>.jnl` holds group commits, each one write():
//   u32 length of the body | u32 crc32 of the body | body = records, each
//   u32 length of the rest | f64 seq | f64 ts | u16 topic length | topic | payload.
// One CRC per group, not per record: zlib's crc32 costs ~0.4 µs a call from JS, more than the rest of an append
// (bench in docs/decisions.md), and a torn group is cut whole, which is right: none of its PUBACKs went out.
// Segments `<first seq>.log` (the first journal version: a CRC in each record's head) are still read.
const GROUP = 8
/** the group buffer's size between bursts */
const GROUP_BUFFER = 64 * 1024
const REC = 4
const FIXED = 18
const crc32: (b: Buffer) => number =
  (zlib as unknown as { crc32?: (b: Buffer) => number }).crc32 ??
  ((b) => {
    let c = ~0
    for (let i = 0; i < b.length; i++) {
      c ^= b[i]!
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1))
    }
    return ~c >>> 0
  })

interface Segment {
  path: string
  first: number
  last: number
}

type OnRecord = (seq: number, ts: number, topic: string, payload: Buffer) => void

/**
 * One record at `r`, `len` bytes: f64 seq | f64 ts | u16 topic length | topic | payload. Returns its seq, or -1
 * when it is malformed.
 */
function record(b: Buffer, r: number, len: number, fn: OnRecord | undefined): number {
  const tl = b.readUInt16LE(r + 16)
  if (FIXED + tl > len) return -1
  const seq = b.readDoubleLE(r)
  fn?.(
    seq,
    b.readDoubleLE(r + 8),
    b.toString('utf8', r + FIXED, r + FIXED + tl),
    b.subarray(r + FIXED + tl, r + len),
  )
  return seq
}

/** The records of a group's body, each behind its u32 length; returns the last seq, or -1 when one is malformed. */
function records(body: Buffer, fn: OnRecord | undefined): number {
  let o = 0
  let last = 0
  while (o < body.length) {
    if (o + REC + FIXED > body.length) return -1
    const len = body.readUInt32LE(o)
    const r = o + REC
    if (len < FIXED || r + len > body.length) return -1
    last = record(body, r, len, fn)
    if (last < 0) return -1
    o = r + len
  }
  return last
}

/**
 * Groups (`.jnl`) or single records (`.log`: a group of one, the record without its own length) of one segment
 * file, up to the first torn or damaged one; `good` is the byte length they take.
 */
function scan(buf: Buffer, grouped: boolean, fn?: OnRecord) {
  let o = 0
  let last = 0
  const min = grouped ? REC + FIXED : FIXED
  while (o + GROUP + min <= buf.length) {
    const len = buf.readUInt32LE(o)
    if (len < min || o + GROUP + len > buf.length) break
    const body = buf.subarray(o + GROUP, o + GROUP + len)
    if (crc32(body) !== buf.readUInt32LE(o + 4)) break
    const l = grouped ? records(body, fn) : record(body, 0, len, fn)
    if (l < 0) break
    last = l
    o += GROUP + len
  }
  return { good: o, last }
}

const segmentFiles = (dir: string) =>
  readdirSync(dir)
    .filter((n) => /^\d+\.(jnl|log)$/.test(n))
    .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10))

const grouped = (path: string) => path.endsWith('.jnl')

/**
 * Read a journal folder without opening it for writing (tools, tests): every intact record after `afterSeq`.
 * @example readJournal('data/journal', 0, (seq, ts, topic) => console.log(seq, topic))
 */
export function readJournal(dir: string, afterSeq: number, fn: OnRecord): number {
  return readSegments(
    segmentFiles(dir).map((n) => join(dir, n)),
    afterSeq,
    fn,
  )
}

/** every intact record after `afterSeq` in these segment files, in order; returns how many */
function readSegments(paths: readonly string[], afterSeq: number, fn: OnRecord): number {
  let n = 0
  for (const path of paths)
    scan(readFileSync(path), grouped(path), (seq, ts, topic, payload) => {
      if (seq <= afterSeq) return
      fn(seq, ts, topic, payload)
      n++
    })
  return n
}

function journalError(path: string, e: unknown): FoglineError {
  const where = { file: path }
  return (e as { code?: string }).code === 'ENOSPC'
    ? new FoglineError('FOG_DISK_FULL', `ingest journal ${path}: the disk is full`, where)
    : new FoglineError('FOG_INTERNAL', `ingest journal ${path}: ${(e as Error).message}`, where)
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
      const s = scan(buf, grouped(path))
      // a torn or damaged tail is cut off: nothing after it was ever acknowledged as a whole
      if (s.good < buf.length) truncateSync(path, s.good)
      const first = Number.parseInt(n, 10)
      // an empty segment still says where numbering stood
      if (s.good === 0) {
        unlinkSync(path)
        last = Math.max(last, first - 1)
      } else {
        this.closedSegs.push({ path, first, last: s.last })
        last = Math.max(last, s.last)
      }
    }
    this.lastSeq = Math.max(last, opts.seqFloor ?? 0)
    this.openSegment()
  }

  private openSegment(): void {
    const first = this.lastSeq + 1
    const path = join(this.opts.dir, `${String(first).padStart(16, '0')}.jnl`)
    this.fd = openSync(path, 'a')
    this.cur = { path, first, last: 0 }
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
    this.done.push(done)
    this.appended++
    if (this.done.length >= this.maxRecords) this.flush()
    else if (this.timer === null) this.timer = this.clock.setTimeout(this.flush, this.interval)
    return seq
  }

  readonly flush = (): void => {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer)
      this.timer = null
    }
    const done = this.done
    if (done.length === 0 && this.truncateTo === 0) return
    this.done = []
    let err: Error | null = null
    try {
      if (done.length > 0) this.write()
      if (this.truncateTo > 0) this.dropCovered()
    } catch (e) {
      err = journalError(this.cur.path, e)
    }
    for (let i = 0; i < done.length; i++) done[i]!(err)
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
    if (this.cur.last > 0) {
      closeSync(this.fd)
      this.closedSegs.push(this.cur)
      this.openSegment()
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
    if (this.timer === null && !this.closed) this.timer = this.clock.setTimeout(this.flush, this.interval)
  }

  stats(): JournalStats {
    return {
      appended: this.appended,
      commits: this.commits,
      pending: this.done.length,
      lastSeq: this.lastSeq,
      bytes: this.bytes,
      buffer: this.buf.length,
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
