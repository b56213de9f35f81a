import type { Reading } from '@fogline/protocol'

/** How a stage reads a group key part from a reading: `sensorId`, `metric` or `fields.<name>`. */
export type KeyGetter = (r: Reading) => string

export function keyGetter(name: string): KeyGetter | undefined {
  if (name === 'sensorId') return (r) => r.sensorId
  if (name === 'metric') return (r) => r.metric
  const m = /^fields\.([\w$-]+)$/.exec(name)
  if (!m) return undefined
  const k = m[1]!
  return (r) => {
    const v = r.fields?.[k]
    return v === undefined || v === null ? '' : String(v)
  }
}

/** The default per-sensor key: sensorId, metric. */
export const SENSOR_KEY: readonly KeyGetter[] = [(r) => r.sensorId, (r) => r.metric]

export const GROUP_KEY_PATTERN = /^(sensorId|metric|fields\.[\w$-]+)$/

/**
 * Per-group state, looked up through one nested Map per key part, so the hot path builds no key string
 * (a concatenated key would allocate on every reading). `all` lists the entries for ticks and snapshots.
 */
export class Keyed<T extends { key: string[] }> {
  readonly all = new Set<T>()
  private readonly root = new Map<string, unknown>()
  constructor(private readonly getters: readonly KeyGetter[]) {}

  get size(): number {
    return this.all.size
  }

  get(r: Reading): T | undefined {
    if (this.getters === SENSOR_KEY) {
      // the default key, read directly: no getter calls on the hot path
      const m = this.root.get(r.sensorId) as Map<string, unknown> | undefined
      return m === undefined ? undefined : (m.get(r.metric) as T | undefined)
    }
    let m: Map<string, unknown> | undefined = this.root
    const n = this.getters.length
    for (let i = 0; i < n - 1; i++) {
      m = m.get(this.getters[i]!(r)) as Map<string, unknown> | undefined
      if (m === undefined) return undefined
    }
    return m.get(this.getters[n - 1]!(r)) as T | undefined
  }

  keyOf(r: Reading): string[] {
    return this.getters.map((g) => g(r))
  }

  /** insert under entry.key (one part per getter) */
  add(entry: T): T {
    let m = this.root
    const k = entry.key
    for (let i = 0; i < k.length - 1; i++) {
      let next = m.get(k[i]!) as Map<string, unknown> | undefined
      if (next === undefined) m.set(k[i]!, (next = new Map()))
      m = next
    }
    m.set(k[k.length - 1]!, entry)
    this.all.add(entry)
    return entry
  }

  delete(entry: T): void {
    this.all.delete(entry)
    const path: Map<string, unknown>[] = [this.root]
    const k = entry.key
    for (let i = 0; i < k.length - 1; i++) {
      const next = path[i]!.get(k[i]!) as Map<string, unknown> | undefined
      if (next === undefined) return
      path.push(next)
    }
    path[k.length - 1]!.delete(k[k.length - 1]!)
    // drop emptied inner maps so a sensor that went away leaves nothing behind
    for (let i = k.length - 1; i > 0; i--) if (path[i]!.size === 0) path[i - 1]!.delete(k[i - 1]!)
  }

  clear(): void {
    this.all.clear()
    this.root.clear()
  }
}
