import { join } from 'node:path'
import { startCloud } from '@fogline/cloud'
import { startNode } from '@fogline/node'
import { NodeConfig, parseConfig } from '@fogline/protocol'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { tempDir, until } from './helpers.js'

describe('offline: the cloud goes away for several windows', () => {
  it('buffers in the outbox and delivers every summary exactly once when the cloud returns', async () => {
    const dir = tempDir()
    const cloudConfig = (port: number) => ({
      broker: { embedded: { host: '127.0.0.1', port } },
      store: { sqlite: join(dir, 'cloud.db') },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' as const },
    })
    let cloud = await startCloud(cloudConfig(0))
    const port = Number(new URL(cloud.brokerUrl).port)
    const node = await startNode(
      parseConfig(NodeConfig, {
        nodeId: 'node-a',
        dataDir: join(dir, 'node-a'),
        broker: { port: 0 },
        uplink: { urls: [cloud.brokerUrl], ackTimeout: '1s', reconnect: { min: '100ms', max: '500ms' } },
        pipelines: [
          {
            id: 'p',
            input: ['sensors/+/+'],
            stages: [
              {
                type: 'window',
                kind: 'tumbling',
                size: '300ms',
                aggregates: ['count', 'min', 'max', 'mean', 'sum'],
              },
            ],
          },
        ],
        log: { level: 'silent' },
      }),
    )
    onTestFinished(() => node.stop())
    const sensor = await mqtt.connectAsync(node.brokerUrl)
    onTestFinished(() => sensor.endAsync())
    let published = 0
    let running = true
    const publishing = (async () => {
      while (running) {
        await sensor.publishAsync('sensors/s1/temperature', JSON.stringify({ value: published % 17 }), {
          qos: 1,
        })
        published++
        await new Promise((r) => setTimeout(r, 20))
      }
    })()

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

    cloud = await startCloud(cloudConfig(port))
    onTestFinished(() => cloud.stop())
    await new Promise((r) => setTimeout(r, 600))
    running = false
    await publishing
    await new Promise((r) => setTimeout(r, 700)) // let the last window close

    const made = await until(() => {
      const s = node.stats()
      return s.backlogRecords === 0 && (s.outputs.summary ?? 0) > 0 ? s.outputs.summary! : 0
    }, 'outbox drained after the cloud returned')
    const rows = await cloud.store.querySummaries({ nodeId: 'node-a' })
    const seqs = rows.map((r) => r.seq).sort((a, b) => a - b)
    expect(backlogWhileOffline).toBeGreaterThanOrEqual(5)
    expect(seqs.length).toBe(made) // every summary the node made, no more (no duplicate), no fewer (no gap)
    expect(seqs).toEqual(seqs.map((_, i) => i + 1))
    expect(rows.reduce((a, r) => a + r.count, 0)).toBe(published)
    expect(node.outbox.stats().records).toBe(0)
  })
})
