import { startSimulators } from '@fogline/simulators'
import { describe, expect, it, onTestFinished } from 'vitest'
import { testCloud, testNode, windowPipeline } from '../fleet.js'
import { tempDir, until } from './helpers.js'

describe('offline: the cloud goes away for several windows', () => {
  it('buffers in the outbox and delivers every summary exactly once when the cloud returns', async () => {
    const dir = tempDir()
    let cloud = await testCloud(dir)
    const port = Number(new URL(cloud.brokerUrl).port)
    const node = await testNode(dir, 'node-a', cloud.brokerUrl, {
      uplink: { ackTimeout: '1s', reconnect: { min: '100ms', max: '500ms' } },
      pipelines: [windowPipeline('300ms')],
    })
    // a simulated sensor at 50 readings/s (its pacing is real time), QoS 1 so every reading reaches the node
    const sim = await startSimulators({ url: node.brokerUrl, qos: 1, sensors: [{ id: 's1', rate: 50 }] })
    onTestFinished(() => sim.stop())
    const published = () => sim.stats().published

    await until(
      async () => (await cloud.store.countRecords({ nodeId: 'node-a', stream: 'summary' })) >= 2,
      'first summaries stored',
    )
    await cloud.stop()
    // several windows pass while the cloud is away; the backlog grows
    const backlogWhileOffline = await until(() => {
      const b = node.stats().backlogRecords
      return b >= 5 ? b : 0
    }, 'backlog grows while offline')
    expect(node.stats().connected).toBe(false)

    cloud = await testCloud(dir, { port })
    // live readings go on after the reconnect: the node is online and has taken 20 more
    const atReconnect = published()
    await until(() => node.stats().connected && published() >= atReconnect + 20, 'online with live readings')
    await sim.stop()

    // the last window closes and every summary reaches the store
    const made = await until(async () => {
      const s = node.stats()
      const stored = await cloud.store.querySummaries({ nodeId: 'node-a' })
      const counted = stored.reduce((a, r) => a + r.count, 0)
      return s.backlogRecords === 0 && counted === published() ? s.outputs.summary! : 0
    }, 'every reading summarized and stored after the cloud returned')
    const rows = await cloud.store.querySummaries({ nodeId: 'node-a' })
    const seqs = rows.map((r) => r.seq).sort((a, b) => a - b)
    expect(backlogWhileOffline).toBeGreaterThanOrEqual(5)
    expect(seqs.length).toBe(made) // every summary the node made, no more (no duplicate), no fewer (no gap)
    expect(seqs).toEqual(seqs.map((_, i) => i + 1))
    expect(rows.reduce((a, r) => a + r.count, 0)).toBe(published())
    expect(node.outbox.stats().records).toBe(0)
  })
})
