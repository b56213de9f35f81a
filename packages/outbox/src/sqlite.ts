import {
  type Clock,
  FoglineError,
  OutboxConfig,
  type OutboxConfigInput,
  STREAM_PRIORITY,
  systemClock,
} from '@fogline/protocol'
import Database from 'better-sqlite3'
import { Packr } from 'msgpackr'
import { createDegrader } from './degrade.js'
import { GroupCommit } from './group-commit.js'
import { APP_ID, checkFile, type Db, prepareStatements, quarantine, SCHEMA, salvageMaxSeq } from './open.js'
import { RangeSet } from './ranges.js'
import {
  type AppendState,
  type CommitInfo,
  type EncodedRecord,
  OUTBOX_STREAMS,
  type Outbox,
  type OutboxStats,
  type OutboxStream,
  type QuarantineInfo,
  type ReadOptions,
  type StoredRecord,
} from './types.js'

export interface OpenSqliteOutboxOptions {
  path: string
  config?: OutboxConfigInput
  clock?: Clock
  /**
   * the clock of group commit's interval; real time by default, also when `clock` is a test's fake clock:
   * committing is I/O pacing, and a stopped fake clock must not stall appends
   */
  commitClock?: Clock
  /** called when the file found at open was corrupt and has been moved aside */
  onCorrupt?: (info: QuarantineInfo) => void
  logger?: { warn(obj: object, msg?: string): void }
}

/** per-row overhead added to the body size when counting capacity (key, header, cell pointer) */
const ROW_OVERHEAD = 24
const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' })

interface Encoded {
  stream: OutboxStream
  ts: number
  priority: number
  body: Buffer
}
interface Pending {
  items: Encoded[]
  state: AppendState | undefined
  urgent: boolean
  resolve: (v: Array<{ stream: OutboxStream; seq: number }>) => void
  reject: (e: unknown) => void
}
interface Row {
  seq: number
  ts: number
  priority: number
  bytes: number
  body: Buffer
}

function defaultPriority(stream: OutboxStream): number {
  return stream === 'reported' ? 0 : STREAM_PRIORITY[stream]
}

/** Map SQLite failures to coded errors: a full disk is FOG_DISK_FULL, nothing committed before is touched. */
export function sqliteError(err: unknown, what: string): FoglineError {
  if (err instanceof FoglineError) return err
  const code = (err as { code?: string }).code ?? ''
  if (code === 'SQLITE_FULL')
    return new FoglineError('FOG_DISK_FULL', `${what}: the disk or outbox file is full`, {}, { cause: err })
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB')
    return new FoglineError('FOG_OUTBOX_CORRUPT', `${what}: ${(err as Error).message}`, {}, { cause: err })
  return new FoglineError('FOG_INTERNAL', `${what}: ${(err as Error).message}`, {}, { cause: err })
}

/**
 * Open (or create) the SQLite outbox at `path`. A corrupt file is moved to `<path>.corrupt-<ts>` and a
 * fresh outbox opened whose seqs start above anything the old one could have sent.
 * @example const ob = await openSqliteOutbox({ path: 'data/outbox.db', config: { synchronous: 'FULL' } })
 */
export async function openSqliteOutbox(opts: OpenSqliteOutboxOptions): Promise<Outbox> {
  const config = Object.freeze(OutboxConfig.parse(opts.config ?? {}))
  const clock = opts.clock ?? systemClock
  const path = opts.path

  let quarantined: QuarantineInfo | null = null
  let bad: string | null
  try {
    bad = checkFile(path, config.integrityCheck)
  } catch (err) {
    throw sqliteError(err, `outbox ${path} cannot be opened`)
  }
  if (bad) {
    const at = clock.now()
    const movedTo = quarantine(path, at)
    // a fresh file must not reuse seqs the cloud may hold already; µs since epoch is above any
    // seq reachable at < 1M records/s, and the salvaged max covers the rest
    const seqFloor = Math.max(salvageMaxSeq(movedTo), at * 1000)
    quarantined = { code: 'FOG_OUTBOX_CORRUPT', movedTo, reason: bad, seqFloor, at }
    opts.logger?.warn({ ...quarantined }, 'corrupt outbox moved aside; fresh outbox opened')
  }

  const db: Db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${config.synchronous}`)
  db.pragma('journal_size_limit = 67108864')
  db.pragma(`application_id = ${APP_ID}`)
  const pageSize = db.pragma('page_size', { simple: true }) as number
  const maxFile = config.maxFileBytes ?? config.capacityBytes * 2 + 32 * 1024 * 1024
  db.pragma(`max_page_count = ${Math.max(16, Math.ceil(maxFile / pageSize))}`)
  db.exec(SCHEMA)

  const st = prepareStatements(db)

  const last = new Map<OutboxStream, number>()
  const sent = new Map<OutboxStream, RangeSet>()
  const usage = new Map<OutboxStream, { records: number; bytes: number }>()
  for (const s of OUTBOX_STREAMS) {
    last.set(s, 0)
    sent.set(s, new RangeSet())
    usage.set(s, { records: 0, bytes: 0 })
  }
  if (quarantined) {
    db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(
      'quarantine',
      JSON.stringify(quarantined),
    )
    for (const s of OUTBOX_STREAMS) st.upSeq.run(s, quarantined.seqFloor)
  }
  for (const r of db.prepare('SELECT stream, last_seq, sent FROM seqs').all() as Array<{
    stream: OutboxStream
    last_seq: number
    sent: string
  }>) {
    last.set(r.stream, r.last_seq)
    sent.set(r.stream, new RangeSet(JSON.parse(r.sent) as Array<[number, number]>))
  }
  for (const r of db
    .prepare('SELECT stream, count(*) AS n, sum(bytes) AS b FROM records GROUP BY stream')
    .all() as Array<{
    stream: OutboxStream
    n: number
    b: number
  }>) {
    usage.set(r.stream, { records: r.n, bytes: r.b })
    // a seq is never reused, even if the seqs row was lost: never below what is stored
    const m =
      (db.prepare('SELECT max(seq) FROM records WHERE stream = ?').pluck().get(r.stream) as number) ?? 0
    if (m > (last.get(r.stream) ?? 0)) last.set(r.stream, m)
  }
  const counters: Record<string, number> = {}
  for (const r of db.prepare('SELECT name, n FROM counters').all() as Array<{ name: string; n: number }>)
    counters[r.name] = r.n

  // counter increments of the running transaction, written at its end
  let delta: Record<string, number> = {}
  const bump = (name: string, n: number) => {
    if (n) delta[name] = (delta[name] ?? 0) + n
  }
  const writeDelta = () => {
    for (const [k, v] of Object.entries(delta)) st.count.run(k, v)
  }
  const totals = () => {
    let records = 0
    let bytes = 0
    for (const u of usage.values()) {
      records += u.records
      bytes += u.bytes
    }
    return { records, bytes }
  }
  const removed = (stream: OutboxStream, bytes: number) => {
    const u = usage.get(stream)!
    u.records--
    u.bytes -= bytes
  }
  const deleteSeq = (stream: OutboxStream, seq: number, reason: string | null): boolean => {
    const r = st.delOne.get(stream, seq) as { bytes: number } | undefined
    if (!r) return false
    removed(stream, r.bytes)
    if (reason) bump(`dropped:${reason}`, 1)
    return true
  }

  // TTL and capacity run inside the append transaction, so the file never grows past the cap
  const ttlOf = (s: OutboxStream): number | undefined => config.ttl[s]
  const { enforce } = createDegrader({
    config,
    usage,
    sent,
    totals,
    deleteSeq,
    bump,
    headMeta: (s, after, n) => st.headMeta.all(s, after, n) as Array<{ seq: number; ts: number }>,
    oldestBodies: (after, n) => st.read.all('summary', after, Number.MAX_SAFE_INTEGER, n) as Row[],
    insertSummary: (ts, body) => {
      const seq = last.get('summary')! + 1
      last.set('summary', seq)
      const bytes = body.length + ROW_OVERHEAD
      st.insRec.run('summary', seq, ts, defaultPriority('summary'), bytes, body)
      const u = usage.get('summary')!
      u.records++
      u.bytes += bytes
    },
    warn: (o, m) => opts.logger?.warn(o, m),
  })

  const commit = db.transaction((batch: Pending[]) => {
    delta = {}
    const results: Array<Array<{ stream: OutboxStream; seq: number }>> = []
    let n = 0
    // lazy state is read now, when the batch is cut: it then covers every record queued before it; the same
    // function passed by several appends of the batch is called once
    const lazy = new Map<() => Record<string, unknown>, Record<string, unknown>>()
    for (const p of batch) {
      const res: Array<{ stream: OutboxStream; seq: number }> = []
      for (const it of p.items) {
        const seq = last.get(it.stream)! + 1
        last.set(it.stream, seq)
        const bytes = it.body.length + ROW_OVERHEAD
        st.insRec.run(it.stream, seq, it.ts, it.priority, bytes, it.body)
        const u = usage.get(it.stream)!
        u.records++
        u.bytes += bytes
        res.push({ stream: it.stream, seq })
        n++
      }
      let state = p.state
      if (typeof state === 'function') {
        const fn = state
        state = lazy.get(fn) ?? fn()
        lazy.set(fn, state)
      }
      if (state)
        for (const [k, v] of Object.entries(state)) {
          if (v === undefined) st.delState.run(k)
          else st.putState.run(k, packr.pack(v))
        }
      results.push(res)
    }
    bump('appended', n)
    if (n > 0) enforce(clock.now())
    for (const s of OUTBOX_STREAMS) st.upSeq.run(s, last.get(s)!)
    writeDelta()
    return results
  })

  let closed = false
  let commits = 0
  const listeners = new Set<(c: CommitInfo) => void>()
  const snapshot = () => ({
    last: new Map(last),
    usage: new Map([...usage].map(([k, v]) => [k, { ...v }])),
  })
  const commitBatch = (batch: Pending[]) => {
    const snap = snapshot()
    let results: Array<Array<{ stream: OutboxStream; seq: number }>>
    try {
      results = commit(batch)
      commits++
    } catch (err) {
      // the transaction rolled back: restore the in-memory view, so no seq is skipped or double-counted
      for (const [k, v] of snap.last) last.set(k, v)
      for (const [k, v] of snap.usage) usage.set(k, v)
      const e = sqliteError(err, 'outbox append')
      for (const p of batch) p.reject(e)
      return
    }
    for (const [k, v] of Object.entries(delta)) counters[k] = (counters[k] ?? 0) + v
    delta = {}
    let records = 0
    let urgent = false
    for (const [i, p] of batch.entries()) {
      records += p.items.length
      urgent ||= p.urgent
      p.resolve(results[i]!)
    }
    if (records > 0) for (const l of listeners) l({ records, urgent })
  }
  const group = new GroupCommit<Pending>(
    {
      interval: config.commitInterval,
      maxQueued: config.commitMaxRecords,
      clock: opts.commitClock ?? systemClock,
    },
    commitBatch,
  )

  const txnSmall = <A extends unknown[]>(fn: (...a: A) => void) =>
    db.transaction((...a: A) => {
      delta = {}
      fn(...a)
      writeDelta()
    })
  const dropRows = txnSmall((stream: OutboxStream, seqs: Array<[number, string]>) => {
    for (const [seq, reason] of seqs) deleteSeq(stream, seq, reason)
  })
  const ackTxn = txnSmall((stream: OutboxStream, ranges: Array<[number, number]>) => {
    let n = 0
    for (const [a, b] of ranges) {
      // count and size first, then one range delete: cheaper than DELETE ... RETURNING row by row
      const [c, bytes] = st.sumRange.get(stream, a, b) as [number, number]
      if (c === 0) continue
      st.delRangeQuiet.run(stream, a, b)
      const u = usage.get(stream)!
      u.records -= c
      u.bytes -= bytes
      n += c
    }
    bump('acked', n)
  })
  const applyDelta = () => {
    for (const [k, v] of Object.entries(delta)) counters[k] = (counters[k] ?? 0) + v
    delta = {}
  }
  const persistSent = (s: OutboxStream) => {
    const head = st.oldest.get(s) as { seq: number } | undefined
    const ranges = sent.get(s)!
    ranges.pruneBelow(head ? head.seq : last.get(s)! + 1)
    st.upSent.run(JSON.stringify(ranges), s)
  }
  const checkStream = (s: string): OutboxStream => {
    if (!usage.has(s as OutboxStream)) throw new FoglineError('FOG_INTERNAL', `unknown outbox stream "${s}"`)
    return s as OutboxStream
  }

  /** read rows after afterSeq; decoded bodies (read) or the stored msgpack bytes as they are (readEncoded) */
  const scan = (
    stream: OutboxStream,
    afterSeq: number,
    max: number,
    maxBytes: number,
    ro: ReadOptions,
    decode: boolean,
  ): Array<StoredRecord | EncodedRecord> => {
    const s = checkStream(stream)
    if (max <= 0) return []
    const until = ro.untilSeq ?? Number.MAX_SAFE_INTEGER
    const ttl = ttlOf(s)
    const cutoff = ttl === undefined ? Number.NEGATIVE_INFINITY : clock.now() - ttl
    const out: Array<StoredRecord | EncodedRecord> = []
    const gone: Array<[number, string]> = []
    let bytes = 0
    let lastSeen = afterSeq
    // expired or undecodable rows are removed (and counted) on the way, and reading goes on past them,
    // so an empty result always means there is nothing to send after afterSeq
    read: for (;;) {
      const want = max - out.length
      // raw arrays, not objects: this is the drain's hot path
      const rows = st.readRaw.all(s, lastSeen, until, want) as Array<[number, number, number, number, Buffer]>
      for (const [seq, ts, priority, size, blob] of rows) {
        if (ts < cutoff) {
          gone.push([seq, `expired-${s}`])
          lastSeen = seq
          continue
        }
        if (out.length > 0 && bytes + size > maxBytes) break read
        if (decode) {
          let body: Record<string, unknown>
          try {
            body = packr.unpack(blob) as Record<string, unknown>
          } catch {
            gone.push([seq, 'corrupt-record'])
            lastSeen = seq
            continue
          }
          out.push({ stream: s, seq, ts, priority, body, bytes: size })
        } else out.push({ seq, ts, body: blob, bytes: size })
        bytes += size
        lastSeen = seq
      }
      if (rows.length < want || out.length >= max) break
    }
    if (gone.length) {
      dropRows(s, gone)
      applyDelta()
    }
    if (!ro.peek && out.length) {
      sent.get(s)!.add(afterSeq + 1, lastSeen)
      persistSent(s)
    }
    return out
  }

  const outbox: Outbox = {
    quarantined,
    append(items, o) {
      if (closed) return Promise.reject(new FoglineError('FOG_INTERNAL', 'outbox is closed'))
      let encoded: Encoded[]
      try {
        encoded = items.map((it) => ({
          stream: checkStream(it.stream),
          ts: it.ts,
          priority: it.priority ?? defaultPriority(it.stream),
          body: packr.pack(it.body),
        }))
      } catch (err) {
        return Promise.reject(err)
      }
      // urgency is decided here, once: it sets when the batch commits and tells listeners to send at once
      const urgent = encoded.some((e) => e.priority === 0)
      return new Promise((resolve, reject) => {
        group.add({ items: encoded, state: o?.state, urgent, resolve, reject }, encoded.length, urgent)
      })
    },
    read(stream, afterSeq, max, maxBytes = Number.POSITIVE_INFINITY, ro: ReadOptions = {}) {
      return scan(stream, afterSeq, max, maxBytes, ro, true) as StoredRecord[]
    },
    readEncoded(stream, afterSeq, max, maxBytes = Number.POSITIVE_INFINITY, ro: ReadOptions = {}) {
      return scan(stream, afterSeq, max, maxBytes, ro, false) as EncodedRecord[]
    },
    ack(stream, seqs) {
      const s = checkStream(stream)
      if (seqs.length === 0) return 0
      const ranges: Array<[number, number]> =
        typeof seqs[0] === 'number'
          ? (seqs as number[]).map((q) => [q, q])
          : (seqs as ReadonlyArray<readonly [number, number]>).map(([a, b]) => [a, b])
      const before = counters.acked ?? 0
      try {
        ackTxn(s, ranges)
      } catch (err) {
        delta = {}
        throw sqliteError(err, 'outbox ack')
      }
      applyDelta()
      return (counters.acked ?? 0) - before
    },
    getState<T>(key: string): T | undefined {
      const v = st.getState.get(key) as Buffer | undefined
      return v === undefined ? undefined : (packr.unpack(v) as T)
    },
    async putState(key, value) {
      await outbox.append([], { state: { [key]: value } })
    },
    lastSeq: (stream) => last.get(checkStream(stream)) ?? 0,
    onCommit(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    stats(): OutboxStats {
      const byStream: OutboxStats['byStream'] = {}
      let oldestTs: number | null = null
      for (const s of OUTBOX_STREAMS) {
        const u = usage.get(s)!
        const head = u.records > 0 ? (st.oldest.get(s) as { ts: number } | undefined) : undefined
        const ts = head ? head.ts : null
        if (ts !== null && (oldestTs === null || ts < oldestTs)) oldestTs = ts
        byStream[s] = { records: u.records, bytes: u.bytes, oldestTs: ts, lastSeq: last.get(s)! }
      }
      const t = totals()
      const dropped: Record<string, number> = {}
      for (const [k, v] of Object.entries(counters)) if (k.startsWith('dropped:')) dropped[k.slice(8)] = v
      return {
        records: t.records,
        bytes: t.bytes,
        byStream,
        oldestTs,
        dropped,
        appended: counters.appended ?? 0,
        commits,
        acked: counters.acked ?? 0,
        quarantined,
      }
    },
    async close() {
      if (closed) return
      group.flush()
      closed = true
      try {
        db.pragma('wal_checkpoint(TRUNCATE)')
      } catch {}
      db.close()
    },
  }
  if (quarantined) opts.onCorrupt?.(quarantined)
  return outbox
}
