import type { Reading } from '@fogline/protocol'
import { describe, expect, it } from 'vitest'
import { Keyed, keyGetter, SENSOR_KEY } from '../src/keyed.js'

interface E {
  key: string[]
  n: number
}
const r = (sensorId: string, metric: string, site = 'a'): Reading =>
  ({ sensorId, metric, value: 0, ts: 0, fields: { site } }) as unknown as Reading

describe('Keyed: per-group lookup (an inner Map only where two entries share a key part)', () => {
  it('tells apart the metrics of one sensor, before and after the second one comes', () => {
    const k = new Keyed<E>(SENSOR_KEY)
    const t = k.add({ key: ['s1', 'temp'], n: 1 })
    // one entry under s1: a reading of another metric must not find it
    expect(k.get(r('s1', 'temp'))).toBe(t)
    expect(k.get(r('s1', 'hum'))).toBeUndefined()
    expect(k.get(r('s2', 'temp'))).toBeUndefined()
    const h = k.add({ key: ['s1', 'hum'], n: 2 })
    expect(k.get(r('s1', 'temp'))).toBe(t)
    expect(k.get(r('s1', 'hum'))).toBe(h)
    k.delete(t)
    expect(k.get(r('s1', 'temp'))).toBeUndefined()
    expect(k.get(r('s1', 'hum'))).toBe(h)
    k.delete(h)
    expect(k.get(r('s1', 'hum'))).toBeUndefined()
    expect(k.size).toBe(0)
    // and again from empty
    const t2 = k.add({ key: ['s1', 'temp'], n: 3 })
    expect(k.get(r('s1', 'temp'))).toBe(t2)
  })

  it('three key parts sharing prefixes: every entry found under its own key only', () => {
    const getters = ['fields.site', 'sensorId', 'metric'].map((g) => keyGetter(g)!)
    const k = new Keyed<E>(getters)
    const keys = [
      ['a', 's1', 'temp'],
      ['a', 's1', 'hum'],
      ['a', 's2', 'temp'],
      ['b', 's1', 'temp'],
    ]
    const entries = keys.map((key, n) => k.add({ key, n }))
    for (const [i, [site, s, m]] of keys.entries()) expect(k.get(r(s!, m!, site))).toBe(entries[i])
    expect(k.get(r('s2', 'hum', 'a'))).toBeUndefined()
    expect(k.get(r('s2', 'temp', 'b'))).toBeUndefined()
    expect(k.get(r('s1', 'hum', 'b'))).toBeUndefined()
    for (const e of entries) k.delete(e)
    for (const [site, s, m] of keys) expect(k.get(r(s!, m!, site))).toBeUndefined()
    expect(k.size).toBe(0)
  })

  it('an entry added under an existing key replaces it in the lookup, and deleting either frees the key', () => {
    const k = new Keyed<E>(SENSOR_KEY)
    const a = k.add({ key: ['s1', 'temp'], n: 1 })
    const b = k.add({ key: ['s1', 'temp'], n: 2 })
    expect(k.get(r('s1', 'temp'))).toBe(b)
    k.delete(a)
    expect(k.get(r('s1', 'temp'))).toBeUndefined()
  })
})
