import { type ErrorData, formatErrorData } from '@fogline/protocol'
import type { NodeView } from '../shared/index.js'
import type { NodeRow } from '../store/index.js'

const n = (v: unknown, d = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : d)
const nOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/**
 * The offline rule: a node is online while it last declared itself online (heartbeat, not its last will)
 * and its last heartbeat or batch is at most `offlineAfter` ms old on the cloud's clock.
 */
export function isOnline(row: NodeRow, now: number, offlineAfter: number): boolean {
  return row.declaredOnline && now - row.lastSeen <= offlineAfter
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
    diskFreeBytes: nOrNull(hb.diskFreeBytes),
    dropped,
    configVersion: typeof cv === 'number' || typeof cv === 'string' ? cv : null,
    lastError: lastErrorText(hb.lastError),
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

const isErrorData = (e: unknown): e is ErrorData =>
  typeof e === 'object' &&
  e !== null &&
  typeof (e as ErrorData).code === 'string' &&
  typeof (e as ErrorData).message === 'string'

/** A node's lastError: ErrorData from current nodes (a string from older ones), shown as one line. */
function lastErrorText(e: unknown): string | null {
  if (typeof e === 'string') return e
  if (isErrorData(e)) return formatErrorData(e)
  return null
}
