import { join } from 'node:path'
import { startCloud } from '@fogline/cloud'
import { startNode } from '@fogline/node'
import { NodeConfig, parseConfig } from '@fogline/protocol'
import { tempDir, waitFor } from '@fogline/testkit'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'

const until = <T>(cond: () => T | Promise<T>, what: string, ms = 30_000) => waitFor(cond, what, ms, 50)

describe('a full disk on the fog node', () => {
  it('is reported with FOG_DISK_FULL while the node keeps computing, and nothing is lost once space returns', async () => {
    const d = tempDir('fogline-diskfull-')
    onTestFinished(() => d.remove())
    // a port for the cloud, which stays away while the outbox file fills up
    const probe = await startCloud({
      broker: { embedded: { host: '127.0.0.1', port: 0 } },
      store: { sqlite: join(d.path, 'probe.db') },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
    })
    const port = Number(new URL(probe.brokerUrl).port)
    await probe.stop()

    const node = await startNode(
      parseConfig(NodeConfig, {
        nodeId: 'full',
        dataDir: join(d.path, 'node'),
        broker: { port: 0 },
        // the file may not grow past 160 KiB (SQLite max_page_count): the "disk" is full long before the
        // outbox's own capacity would start degrading
        outbox: { maxFileBytes: '160KiB', capacityBytes: '64MiB' },
        uplink: { urls: [`mqtt://127.0.0.1:${port}`], reconnect: { min: '50ms', max: '200ms' } },
        log: { level: 'silent' },
        pipelines: [
          {
            id: 'p',
            input: ['sensors/+/+'],
            stages: [{ type: 'window', kind: 'count', count: 2, aggregates: ['count', 'min', 'max', 'sum'] }],
          },
        ],
      }),
    )
    onTestFinished(() => node.stop())
    const sensor = await mqtt.connectAsync(node.brokerUrl, { reconnectPeriod: 0 })
    onTestFinished(() => sensor.endAsync(true))

    // 40 sensors, one summary per 2 readings each, until the file refuses writes — and then some more
    let published = 0
    const burst = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await sensor.publishAsync(`sensors/s${i % 40}/t`, String(published % 1000), { qos: 1 })
        published++
      }
    }
    for (let round = 0; round < 60 && node.stats().lastError?.code !== 'FOG_DISK_FULL'; round++)
      await burst(400)
    expect(node.stats().lastError).toMatchObject({ code: 'FOG_DISK_FULL' })
    await burst(400) // the node keeps taking readings and computing while the disk is full
    await until(() => node.stats().readingsIn === published, 'every reading taken')
    const made = node.stats().outputs.summary ?? 0
    expect(made).toBe(published / 2)

    // space returns: the cloud comes back, the backlog drains, the held outputs are written and sent
    const cloud = await startCloud({
      broker: { embedded: { host: '127.0.0.1', port } },
      store: { sqlite: join(d.path, 'cloud.db') },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
    })
    onTestFinished(() => cloud.stop())
    const rows = await until(
      async () => {
        const r = await cloud.store.querySummaries({ nodeId: 'full', limit: 1_000_000 })
        return r.length === made && node.stats().backlogRecords === 0 ? r : null
      },
      'every summary stored',
      60_000,
    )
    expect(rows.reduce((a, r) => a + r.count, 0)).toBe(published)
    const seqs = rows.map((r) => r.seq).sort((a, b) => a - b)
    expect(seqs).toEqual(seqs.map((_, i) => i + 1)) // no gap, no duplicate
    expect(node.stats().dropped).toEqual({})
  }, 120_000)
})
