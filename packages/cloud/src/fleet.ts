import type { Clock } from '@fogline/protocol'
import type { CloudBus, NodeView } from './bus.js'
import type { NodeRow, Store } from './store/types.js'

const n = (v: unknown, d = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : d)
const nOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/**
 * The offline rule: a node is online while it last declared itself online (heartbeat, not its last will)
 * and its last heartbeat or batch is at most `offlineAfter` ms old on the cloud's clock.
 */
export function isOnline(row: NodeRow, now: number, offlineAfter: number): boolean {
  return row.declaredOnline && now - row.lastSeen <= offlineAfter
}

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
    lastError: typeof hb.lastError === 'string' ? hb.lastError : null,
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

/**
 * Fleet registry: the state lives in the store (so replicas agree); this object derives online/offline
 * with the injected clock and emits a `node` event on each heartbeat and on each online↔offline change.
 * Lifecycle: create → start (sweeps every sweepInterval) → stop.
 */
export class Fleet {
  private readonly known = new Map<string, boolean>()
  private timer: unknown = null
  private sweeping = false

  constructor(
    private readonly store: Store,
    private readonly bus: CloudBus,
    private readonly clock: Clock,
    readonly offlineAfter: number,
    private readonly sweepInterval: number,
  ) {}

  async list(): Promise<NodeView[]> {
    const now = this.clock.now()
    return (await this.store.listNodes()).map((r) => toNodeView(r, now, this.offlineAfter))
  }

  async get(nodeId: string): Promise<NodeView | null> {
    const r = await this.store.getNode(nodeId)
    return r ? toNodeView(r, this.clock.now(), this.offlineAfter) : null
  }

  /** After a heartbeat / will / reported message was stored: publish the node's new view. */
  async touched(nodeId: string): Promise<void> {
    const v = await this.get(nodeId)
    if (!v) return
    this.known.set(nodeId, v.online)
    this.bus.emit('node', v)
  }

  /** Find nodes whose online state changed since the last look (e.g. went silent). */
  async sweep(): Promise<NodeView[]> {
    if (this.sweeping) return []
    this.sweeping = true
    try {
      const changed: NodeView[] = []
      for (const v of await this.list()) {
        if (this.known.get(v.nodeId) !== v.online) {
          this.known.set(v.nodeId, v.online)
          changed.push(v)
          this.bus.emit('node', v)
        }
      }
      return changed
    } finally {
      this.sweeping = false
    }
  }

  start(onError: (err: unknown) => void): void {
    const tick = () => {
      this.sweep()
        .catch(onError)
        .finally(() => {
          if (this.timer !== null) this.timer = this.schedule(tick)
        })
    }
    this.timer = this.schedule(tick)
  }

  private schedule(fn: () => void): unknown {
    const h = this.clock.setTimeout(fn, this.sweepInterval)
    ;(h as { unref?: () => void } | null)?.unref?.() // the sweep never keeps a process alive
    return h
  }

  stop(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
  }
}
