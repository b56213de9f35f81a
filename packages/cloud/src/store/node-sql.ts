import { type Dialect, isFullHeartbeat } from './sql.js'
import type { DeadLetterInput, HeartbeatBody } from './types.js'

/** A statement with its parameters, in one dialect's placeholders. */
export interface Stmt {
  sql: string
  params: unknown[]
}

/** Dead-letter payloads are kept up to this size (enough to debug, bounded on disk). */
export const DEAD_LETTER_MAX_PAYLOAD = 64 * 1024

/**
 * Statements are written once with PostgreSQL's numbered `$n` parameters; for SQLite (better-sqlite3 binds
 * `?` by position only) each `$n` becomes `?` and its value is repeated in that order.
 */
export function stmt(d: Dialect, sql: string, params: readonly unknown[]): Stmt {
  if (d === 'postgres') return { sql, params: [...params] }
  const order: unknown[] = []
  const text = sql.replace(/\$(\d+)/g, (_m, n: string) => {
    order.push(params[Number(n) - 1])
    return '?'
  })
  return { sql: text, params: order }
}

// ordered (boot, seq): applied only above what is held; a node from a build without order is applied as it
// comes while the row holds no order. lastSeen never moves back.
const HEARTBEAT = `INSERT INTO nodes (node_id, group_name, declared_online, first_seen, last_seen, heartbeat, hb_boot, hb_seq)
  VALUES ($1, $2, $3, $4, $5, $6, $8, $9)
  ON CONFLICT (node_id) DO UPDATE SET group_name = COALESCE(excluded.group_name, nodes.group_name),
    declared_online = excluded.declared_online,
    last_seen = CASE WHEN $7 = 1 THEN GREATEST_(nodes.last_seen, excluded.last_seen) ELSE nodes.last_seen END,
    heartbeat = CASE WHEN $7 = 1 THEN excluded.heartbeat ELSE nodes.heartbeat END,
    hb_boot = excluded.hb_boot, hb_seq = excluded.hb_seq
  WHERE nodes.hb_boot IS NULL
    OR (excluded.hb_boot IS NOT NULL AND (excluded.hb_boot, excluded.hb_seq) > (nodes.hb_boot, nodes.hb_seq))
  RETURNING node_id`

const int = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) ? v : null)

/**
 * Heartbeat (or last will): the node's group and declared state; a full heartbeat also its counters and
 * lastSeen: an ordered heartbeat's own time bounded by the receive time `now`. Returns a row only when it was applied.
 */
export function heartbeatUpsert(d: Dialect, nodeId: string, body: HeartbeatBody, now: number): Stmt {
  const group = typeof body.group === 'string' ? body.group : null
  const online = body.online === false ? 0 : 1
  const full = isFullHeartbeat(body) ? 1 : 0
  const boot = int(body.boot)
  const seq = boot === null ? null : int(body.seq)
  // an ordered heartbeat's own time says when the node was alive, even when handled late; older builds' is
  // not trusted
  const ts =
    seq !== null && typeof body.ts === 'number' && Number.isFinite(body.ts) ? Math.min(body.ts, now) : now
  const sql = HEARTBEAT.replace('GREATEST_', d === 'sqlite' ? 'MAX' : 'GREATEST')
  const order = seq === null ? [null, null] : [boot, seq]
  return stmt(d, sql, [nodeId, group, online, now, Math.floor(ts), JSON.stringify(body), full, ...order])
}

// with a seq (reported records from the node's outbox) an older or equal one never replaces a newer state
const REPORTED = `INSERT INTO nodes (node_id, declared_online, first_seen, last_seen, reported, reported_at, reported_seq)
  VALUES ($1, 1, $2, $2, $3, $2, $4)
  ON CONFLICT (node_id) DO UPDATE SET last_seen = excluded.last_seen, reported = excluded.reported,
    reported_at = excluded.reported_at, reported_seq = excluded.reported_seq
  WHERE excluded.reported_seq IS NULL OR nodes.reported_seq IS NULL OR excluded.reported_seq > nodes.reported_seq
  RETURNING node_id`

/** Latest reported state; returns a row only when it was applied. */
export function reportedUpsert(
  d: Dialect,
  nodeId: string,
  body: Record<string, unknown>,
  now: number,
  seq: number | undefined,
): Stmt {
  return stmt(d, REPORTED, [nodeId, now, JSON.stringify(body), seq ?? null])
}

/** Data declares online only a node without ordered heartbeats (see touchNode). */
export const DECLARED_BY_DATA =
  'declared_online = CASE WHEN nodes.hb_boot IS NULL THEN 1 ELSE nodes.declared_online END'

/**
 * A batch was stored: last seen now (never earlier) and its record counters grow. Only a node without ordered
 * heartbeats is declared online by data: otherwise a late batch could bring a stopped node back.
 */
export function touchNode(d: Dialect, nodeId: string, at: number, summaries: number, events: number): Stmt {
  const greatest = d === 'sqlite' ? 'MAX' : 'GREATEST'
  return stmt(
    d,
    `INSERT INTO nodes (node_id, declared_online, first_seen, last_seen, summaries, events) VALUES ($1, 1, $2, $2, $3, $4)
  ON CONFLICT (node_id) DO UPDATE SET ${DECLARED_BY_DATA}, last_seen = ${greatest}(nodes.last_seen, excluded.last_seen),
    summaries = nodes.summaries + excluded.summaries, events = nodes.events + excluded.events`,
    [nodeId, at, summaries, events],
  )
}

const DEAD_LETTER = `INSERT INTO dead_letters (received_at, node_id, stream, seq, topic, code, reason, bytes, payload)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id`

/** One dead letter (payload cut to DEAD_LETTER_MAX_PAYLOAD); returns its id, none for a record already kept. */
export function deadLetterInsert(d: Dialect, x: DeadLetterInput): Stmt {
  // record-level dead letters (a bad body inside a stored batch) keep no payload of their own
  const payload = x.payload.length ? Buffer.from(x.payload.subarray(0, DEAD_LETTER_MAX_PAYLOAD)) : null
  return stmt(d, DEAD_LETTER, [
    x.receivedAt,
    x.nodeId,
    x.stream ?? null,
    x.seq ?? null,
    x.topic,
    x.code,
    x.reason,
    x.payload.length,
    payload,
  ])
}

/** A record of a stored batch whose body could not be kept: dead-lettered in the batch's transaction. */
export function recordDeadLetter(
  d: 'sqlite' | 'postgres',
  batch: { nodeId: string; stream: string },
  b: { seq: number; reason: string },
  at: number,
): Stmt {
  return deadLetterInsert(d, {
    receivedAt: at,
    nodeId: batch.nodeId,
    stream: batch.stream,
    seq: b.seq,
    topic: `fogline/v1/${batch.nodeId}/up/${batch.stream}`,
    code: 'FOG_BATCH_INVALID',
    reason: b.reason,
    payload: new Uint8Array(0),
  })
}
