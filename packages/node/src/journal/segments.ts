import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as zlib from 'node:zlib'
import { FoglineError } from '@fogline/protocol'

/** The ingest journal's files: their format, and reading them (log.ts writes them). */

// A segment file `<first seq>.jnl` holds group commits, each one write():
//   u32 length of the body | u32 crc32 of the body | body = records, each
//   u32 length of the rest | f64 seq | f64 ts | u16 topic length | topic | payload.
// One CRC per group, not per record: zlib's crc32 costs ~0.4 µs a call from JS, more than the rest of an append
// (bench in docs/decisions.md), and a torn group is cut whole, which is right: none of its PUBACKs went out.
// Segments `<first seq>.log` (the first journal version: a CRC in each record's head) are still read.
// A record of seq 0 is a QoS 2 packet id's state, not a reading (held-ids.ts).
export const GROUP = 8
/** the group buffer's size between bursts */
export const GROUP_BUFFER = 64 * 1024
export const REC = 4
export const FIXED = 18
export const crc32: (b: Buffer) => number =
  (zlib as unknown as { crc32?: (b: Buffer) => number }).crc32 ??
  ((b) => {
    let c = ~0
    for (let i = 0; i < b.length; i++) {
      c ^= b[i]!
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1))
    }
    return ~c >>> 0
  })

export interface Segment {
  path: string
  first: number
  last: number
}

export type OnRecord = (seq: number, ts: number, topic: string, payload: Buffer) => void

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
    const seq = record(body, r, len, fn)
    if (seq < 0) return -1
    // a group of id records only (seq 0) does not move the position back
    if (seq > last) last = seq
    o = r + len
  }
  return last
}

/**
 * Groups (`.jnl`) or single records (`.log`: a group of one, the record without its own length) of one segment
 * file, up to the first torn or damaged one; `good` is the byte length they take.
 */
export function scan(buf: Buffer, grouped: boolean, fn?: OnRecord) {
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
    if (l > last) last = l
    o += GROUP + len
  }
  return { good: o, last }
}

export const segmentFiles = (dir: string) =>
  readdirSync(dir)
    .filter((n) => /^\d+\.(jnl|log)$/.test(n))
    .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10))

export const grouped = (path: string) => path.endsWith('.jnl')

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
export function readSegments(paths: readonly string[], afterSeq: number, fn: OnRecord): number {
  let n = 0
  for (const path of paths)
    scan(readFileSync(path), grouped(path), (seq, ts, topic, payload) => {
      // seq 0: a QoS 2 id record, not a reading
      if (seq === 0 || seq <= afterSeq) return
      fn(seq, ts, topic, payload)
      n++
    })
  return n
}

export function journalError(path: string, e: unknown): FoglineError {
  const where = { file: path }
  return (e as { code?: string }).code === 'ENOSPC'
    ? new FoglineError('FOG_DISK_FULL', `ingest journal ${path}: the disk is full`, where)
    : new FoglineError('FOG_INTERNAL', `ingest journal ${path}: ${(e as Error).message}`, where)
}
