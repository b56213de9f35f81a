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
 * A Map that would hold a single entry is left out: where only one entry lies below a key part (a sensor
 * with one metric, the usual case), the entry itself stands in for the inner Map and its own `key` says
 * whether the remaining parts match. An inner Map with one entry costs ~180 bytes per sensor and stage
 * (heap per idle connection, bench/heap-per-conn.ts); it is made when a second entry comes below it.
 */
export class Keyed<T extends { key: string[] }> {
  readonly all = new Set<T>()
  private readonly root = new Map<string, T | Level<T>>()
  constructor(private readonly getters: readonly KeyGetter[]) {}

  get size(): number {
    return this.all.size
  }

  get(r: Reading): T | undefined {
    if (this.getters === SENSOR_KEY) {
      // the default key, read directly: no getter calls on the hot path
      const v = this.root.get(r.sensorId)
      if (v === undefined) return undefined
      if (v instanceof Map) return v.get(r.metric) as T | undefined
      return v.key[1] === r.metric ? v : undefined
    }
    let m: Level<T> = this.root
    const n = this.getters.length
    for (let i = 0; i < n; i++) {
      const v = m.get(this.getters[i]!(r))
      if (v === undefined) return undefined
      if (!(v instanceof Map)) {
        // the one entry below this part: the rest of its key must match too
        for (let j = i + 1; j < n; j++) if (v.key[j] !== this.getters[j]!(r)) return undefined
        return v
      }
      m = v
    }
    return undefined
  }

  /**
   * The key of a reading's entry. Keys are never written to, so the default key is shared: a stage after the
   * first gets the array the one before it made for the same reading (~66 B a sensor and stage; bench/heap-per-conn.ts).
   */
  keyOf(r: Reading): string[] {
    if (this.getters === SENSOR_KEY) {
      const k = lastSensorKey
      if (k[0] === r.sensorId && k[1] === r.metric) return k
      lastSensorKey = [r.sensorId, r.metric]
      return lastSensorKey
    }
    return this.getters.map((g) => g(r))
  }

  /** insert under entry.key (one part per getter); an entry of the same key is replaced in the lookup */
  add(entry: T): T {
    let m: Level<T> = this.root
    const k = entry.key
    for (let i = 0; i < k.length; i++) {
      const v = m.get(k[i]!)
      if (v === undefined || i === k.length - 1) {
        m.set(k[i]!, entry)
        break
      }
      if (v instanceof Map) {
        m = v
        continue
      }
      if (sameKey(v.key, k)) {
        m.set(k[i]!, entry)
        break
      }
      // a second entry below this part: the inner Map it now needs, holding the first one
      const next: Level<T> = new Map([[v.key[i + 1]!, v]])
      m.set(k[i]!, next)
      m = next
    }
    this.all.add(entry)
    return entry
  }

  delete(entry: T): void {
    this.all.delete(entry)
    const path: Level<T>[] = [this.root]
    const k = entry.key
    for (let i = 0; i < k.length; i++) {
      const m = path[i]!
      const v = m.get(k[i]!)
      if (v === undefined) return
      if (v instanceof Map) {
        path.push(v)
        continue
      }
      // what the lookup holds under the entry's key goes (as with one Map per part)
      if (sameKey(v.key, k)) m.delete(k[i]!)
      break
    }
    // drop emptied inner maps so a sensor that went away leaves nothing behind
    for (let i = path.length - 1; i > 0; i--) if (path[i]!.size === 0) path[i - 1]!.delete(k[i - 1]!)
  }

  clear(): void {
    this.all.clear()
    this.root.clear()
  }
}

type Level<T> = Map<string, T | Level<T>>

/** the default key keyOf made last, by any Keyed (see keyOf) */
let lastSensorKey: string[] = ['', '']

function sameKey(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
