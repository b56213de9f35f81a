import { ERROR_CODES, type ErrorCode, type ErrorData } from '@fogline/protocol'
import type { NodeView } from '../shared/index.js'
import type { NodeRow } from '../store/index.js'

const n = (v: unknown, d = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : d)
const nOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

const isCode = (c: unknown): c is ErrorCode => typeof c === 'string' && c in ERROR_CODES

/**
 * A heartbeat's lastError as data. Current nodes send `{ code, message, where }`; nodes from before errors
 * were data send one string `"FOG_CODE: sentence"`, read once here into the same shape (an unknown or missing
 * code becomes FOG_INTERNAL with the whole string as the message).
 */
export function lastErrorOf(v: unknown): ErrorData | null {
  if (v === null || v === undefined || v === '') return null
  if (typeof v === 'string') {
    const m = /^(FOG_[A-Z_]+):\s*(.*)$/s.exec(v)
    return m && isCode(m[1])
      ? { code: m[1], message: m[2]!, where: {} }
      : { code: 'FOG_INTERNAL', message: v, where: {} }
  }
  if (typeof v !== 'object') return null
  const o = v as { code?: unknown; message?: unknown; where?: unknown }
  return {
    code: isCode(o.code) ? o.code : 'FOG_INTERNAL',
    message: typeof o.message === 'string' ? o.message : String(o.code ?? 'unknown error'),
    where: o.where && typeof o.where === 'object' ? (o.where as ErrorData['where']) : {},
  }
}

/**
 * The offline rule: a node is online while it last declared itself online (heartbeat, not its last will)
 * and its last heartbeat or batch is at most `offlineAfter` ms old on the cloud's clock.
 */
export function isOnline(row: NodeRow, now: number, offlineAfter: number): boolean {
  return row.declaredOnline && now - row.lastSeen <= offlineAfter
}

/** A heartbeat's `models` (name → kind, version, trainedAt), each field checked: a node may be older or odd. */
function modelsOf(v: unknown): NodeView['models'] {
  const out: NodeView['models'] = {}
  if (!v || typeof v !== 'object') return out
  for (const [name, m] of Object.entries(v as Record<string, Record<string, unknown>>)) {
    if (!m || typeof m !== 'object') continue
    out[name] = {
      kind: typeof m.kind === 'string' ? m.kind : 'unknown',
      version: n(m.version),
      trainedAt: nOrNull(m.trainedAt),
    }
  }
  return out
}

/** The API's view of a stored node row at time `now`. */
export function toNodeView(row: NodeRow, now: number, offlineAfter: number): NodeView {
  const hb = row.heartbeat ?? {}
  const dropped: Record<string, number> = {}
  if (hb.dropped && typeof hb.dropped === 'object')
    for (const [k, v] of Object.entries(hb.dropped)) if (typeof v === 'number') dropped[k] = v
  const outputs: Record<string, number> = {}
  if (hb.outputs && typeof hb.outputs === 'object')
    for (const [k, v] of Object.entries(hb.outputs)) if (typeof v === 'number') outputs[k] = v
  const cv = hb.configVersion ?? (row.reported?.appliedVersion as number | string | undefined) ?? null
  return {
    nodeId: row.nodeId,
    group: row.group,
    online: isOnline(row, now, offlineAfter),
    lastSeen: row.lastSeen,
    firstSeen: row.firstSeen,
    readingsPerSec: n(hb.readingsPerSec),
    readingsIn: n(hb.readingsIn),
    backlogRecords: n(hb.backlogRecords),
    backlogBytes: n(hb.backlogBytes),
    oldestUnsentAgeMs: nOrNull(hb.oldestUnsentAgeMs),
    etaSec: nOrNull(hb.etaSec),
    outboxFullAt: nOrNull(hb.outboxFullAt),
    diskFreeBytes: nOrNull(hb.diskFreeBytes),
    dropped,
    configVersion: typeof cv === 'number' || typeof cv === 'string' ? cv : null,
    models: modelsOf(hb.models),
    lastError: lastErrorOf(hb.lastError),
    sent: n(hb.sent),
    acked: n(hb.acked),
    resent: n(hb.resent),
    rejected: n(hb.rejected),
    failovers: n(hb.failovers),
    endpoint: typeof hb.endpoint === 'string' ? hb.endpoint : null,
    malformed: n(hb.malformed),
    oversize: n(hb.oversize),
    authFailures: n(hb.authFailures),
    deadLetters: n(hb.deadLetters),
    outputs,
    summaries: row.summaries,
    events: row.events,
    reported: row.reported,
    reportedAt: row.reportedAt,
  }
}
