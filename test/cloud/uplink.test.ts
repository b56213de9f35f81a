import { join } from 'node:path'
import { startCloud } from '@fogline/cloud'
import { openSqliteOutbox } from '@fogline/outbox'
import { UplinkConfig } from '@fogline/protocol'
import { createUplink } from '@fogline/uplink'
import { describe, expect, it, onTestFinished } from 'vitest'
import { tempDir, until } from './helpers.js'

function summary(i: number) {
  const start = 1_700_000_000_000 + i * 1000
  return {
    pipelineId: 'p',
    sensorId: `s${i % 3}`,
    metric: 't',
    start,
    end: start + 1000,
    count: 4,
    min: i,
    max: i + 3,
    mean: i + 1.5,
    sum: 4 * i + 6,
  }
}

describe('the real outbox and uplink against the cloud', () => {
  it('drains the outbox exactly once into the store and the fleet shows the heartbeat, then offline on the last will', async () => {
    const dir = tempDir()
    const cloud = await startCloud({
      broker: { embedded: { host: '127.0.0.1', port: 0 } },
      store: { sqlite: join(dir, 'cloud.db') },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
    })
    onTestFinished(() => cloud.stop())
    const outbox = await openSqliteOutbox({ path: join(dir, 'outbox.db') })
    onTestFinished(() => outbox.close())
    let hbBacklog = -1
    const uplink = createUplink({
      nodeId: 'node-u',
      group: 'line-1',
      outbox,
      config: UplinkConfig.parse({ urls: [cloud.brokerUrl], heartbeat: '100ms', batchMaxRecords: 50 }),
      heartbeat: () => {
        const s = outbox.stats()
        hbBacklog = s.records
        return {
          ts: Date.now(),
          online: true,
          group: 'line-1',
          backlogRecords: s.records,
          backlogBytes: s.bytes,
          dropped: s.dropped,
          configVersion: 1,
        }
      },
    })
    onTestFinished(() => uplink.stop())
    await outbox.append(
      Array.from({ length: 300 }, (_, i) => ({ stream: 'summary' as const, ts: 1, body: summary(i + 1) })),
    )
    await outbox.append([
      {
        stream: 'event' as const,
        ts: 1,
        body: { pipelineId: 'p', sensorId: 's1', metric: 't', ts: 5, kind: 'enter', name: 'hot', value: 40 },
      },
    ])
    uplink.start()
    await until(() => outbox.stats().records === 0, 'outbox drained')
    expect(await cloud.store.countRecords({ nodeId: 'node-u', stream: 'summary' })).toBe(300)
    expect(await cloud.store.countRecords({ nodeId: 'node-u', stream: 'event' })).toBe(1)
    const rows = await cloud.store.querySummaries({ nodeId: 'node-u' })
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
    expect(rows.reduce((a, r) => a + r.count, 0)).toBe(1200)
    const v = await until(async () => {
      const n = await cloud.fleet.get('node-u')
      return n?.online && n.backlogRecords === 0 && hbBacklog === 0 ? n : null
    }, 'heartbeat with an empty backlog')
    expect(v).toMatchObject({ group: 'line-1', configVersion: 1, summaries: 300, events: 1 })
    // cut the link without a goodbye: the broker publishes the uplink's last will
    uplink.pause()
    await until(
      async () => (await cloud.fleet.get('node-u'))?.online === false,
      'offline after the link is cut',
      5_000,
    )
  })
})
