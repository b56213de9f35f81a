import { describe, expect, it } from 'vitest'
import { sensors, testCloud, testNode, windowPipeline } from '../fleet.js'
import { reference, tempDir, until } from './helpers.js'

const pipelines = [windowPipeline('500ms', { id: 'temps', decoder: { type: 'json', value: '$.value' } })]

describe('the whole chain: sensors → 2 fog nodes → cloud store', () => {
  it('stores summaries whose counts add up to the readings published and whose aggregates match a reference', async () => {
    const dir = tempDir()
    const cloud = await testCloud(dir)
    const nodes = []
    for (const nodeId of ['node-a', 'node-b'])
      nodes.push(await testNode(dir, nodeId, cloud.brokerUrl, { uplink: { heartbeat: '1s' }, pipelines }))

    // deterministic readings, QoS 1 so that every one reaches the node's broker
    const published = new Map<string, number[]>()
    for (const node of nodes) {
      const c = await sensors(node.brokerUrl, `sim-${node.nodeId}`)
      for (let round = 0; round < 12; round++) {
        // halfway, wait until the node has closed a window, so each sensor's readings span several windows
        if (round === 6) await until(() => (node.stats().outputs.summary ?? 0) >= 3, 'a first window closed')
        for (let s = 0; s < 3; s++) {
          const sensor = `t${s}`
          const value = Math.round((20 + s * 5 + Math.sin(round + s) * 3) * 100) / 100
          const key = `${node.nodeId}/${sensor}`
          published.set(key, [...(published.get(key) ?? []), value])
          await c.publishAsync(`sensors/${sensor}/temperature`, JSON.stringify({ value }), { qos: 1 })
        }
      }
    }
    const total = [...published.values()].reduce((a, v) => a + v.length, 0)
    expect(total).toBe(72)

    const rows = await until(async () => {
      const r = await cloud.store.querySummaries({})
      const n = r.reduce((a, x) => a + x.count, 0)
      return n === total ? r : null
    }, 'all readings summarized and stored in the cloud')

    for (const [key, values] of published) {
      const [nodeId, sensorId] = key.split('/') as [string, string]
      const mine = rows.filter((r) => r.nodeId === nodeId && r.sensorId === sensorId)
      expect(mine.length).toBeGreaterThan(1) // several windows
      const ref = reference(values)
      const count = mine.reduce((a, r) => a + r.count, 0)
      const sum = mine.reduce((a, r) => a + r.sum, 0)
      expect(count).toBe(ref.count)
      expect(Math.min(...mine.map((r) => r.min))).toBe(ref.min)
      expect(Math.max(...mine.map((r) => r.max))).toBe(ref.max)
      expect(sum / count).toBeCloseTo(ref.mean, 9)
      for (const r of mine) expect(r.mean).toBeCloseTo(r.sum / r.count, 9)
      expect(mine.every((r) => r.metric === 'temperature')).toBe(true)
    }
    // exactly once: per node the stored seqs are 1..N with no gap and no duplicate
    for (const node of nodes) {
      const seqs = rows.filter((r) => r.nodeId === node.nodeId).map((r) => r.seq)
      expect(seqs.sort((a, b) => a - b)).toEqual(seqs.map((_, i) => i + 1))
      await until(() => node.stats().backlogRecords === 0, 'outbox drained')
      expect(node.stats().acked).toBe(seqs.length)
    }
  })
})
