import type { Clock } from '@fogline/protocol'
import type { CloudBus, NodeView } from '../shared/index.js'
import type { Store } from '../store/index.js'
import { toNodeView } from './view.js'

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
