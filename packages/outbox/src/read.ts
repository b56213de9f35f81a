import { type Clock, msgpack, type OutboxConfig } from '@fogline/protocol'
import { applyDelta, type Book, deleteSeq, persistSent, txnSmall } from './book.js'
import type { EncodedRecord, OutboxStream, ReadOptions, StoredRecord } from './types.js'

type Scanned = StoredRecord | EncodedRecord
type RawRow = [number, number, number, number, Buffer]

/**
 * Read rows after afterSeq: decoded bodies (read) or the stored msgpack bytes as they are (readEncoded).
 * Expired or undecodable rows are removed (and counted) on the way, and reading goes on past them, so an
 * empty result always means there is nothing to send after afterSeq.
 */
export function createScanner(book: Book, config: OutboxConfig, clock: Clock) {
  const dropRows = txnSmall(book, (stream: OutboxStream, seqs: Array<[number, string]>) => {
    for (const [seq, reason] of seqs) deleteSeq(book, stream, seq, reason)
  })
  return (
    s: OutboxStream,
    afterSeq: number,
    max: number,
    maxBytes: number,
    ro: ReadOptions,
    decode: boolean,
  ): Scanned[] => {
    if (max <= 0) return []
    const until = ro.untilSeq ?? Number.MAX_SAFE_INTEGER
    const ttl = config.ttl[s]
    const cutoff = ttl === undefined ? Number.NEGATIVE_INFINITY : clock.now() - ttl
    const out: Scanned[] = []
    const gone: Array<[number, string]> = []
    let bytes = 0
    let lastSeen = afterSeq
    read: for (;;) {
      const want = max - out.length
      // raw arrays, not objects: this is the drain's hot path
      const rows = book.st.readRaw.all(s, lastSeen, until, want) as RawRow[]
      for (const [seq, ts, priority, size, blob] of rows) {
        if (ts < cutoff) {
          gone.push([seq, `expired-${s}`])
          lastSeen = seq
          continue
        }
        if (out.length > 0 && bytes + size > maxBytes) break read
        const rec = decode
          ? decodeRow(s, seq, ts, priority, size, blob)
          : { seq, ts, body: blob, bytes: size }
        if (!rec) gone.push([seq, 'corrupt-record'])
        else {
          out.push(rec)
          bytes += size
        }
        lastSeen = seq
      }
      if (rows.length < want || out.length >= max) break
    }
    if (gone.length) {
      dropRows(s, gone)
      applyDelta(book)
    }
    if (!ro.peek && out.length) {
      book.sent.get(s)!.add(afterSeq + 1, lastSeen)
      persistSent(book, s)
    }
    return out
  }
}

/** a stored row with its body decoded, or undefined when the body does not decode */
function decodeRow(
  stream: OutboxStream,
  seq: number,
  ts: number,
  priority: number,
  bytes: number,
  blob: Buffer,
): StoredRecord | undefined {
  try {
    return { stream, seq, ts, priority, body: msgpack.unpack(blob) as Record<string, unknown>, bytes }
  } catch {
    return undefined
  }
}
