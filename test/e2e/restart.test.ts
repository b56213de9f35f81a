import { join } from 'node:path'
import { openSqliteOutbox } from '@fogline/outbox'
import mqtt from 'mqtt'
import { describe, expect, it } from 'vitest'
import { nodeConfigFile, testCloud, windowPipeline } from '../fleet.js'
import { nodeChild, tempDir, until } from './helpers.js'

async function publish(url: string, n: number, offset: number): Promise<void> {
  const c = await mqtt.connectAsync(url)
  for (let i = 0; i < n; i++) {
    await c.publishAsync('sensors/s1/temperature', JSON.stringify({ value: offset + i }), { qos: 1 })
  }
  await c.endAsync()
}

describe('restart: the fog node process stops while its outbox holds unsent batches', () => {
  it('loses nothing and continues its seq numbers', async () => {
    const dir = tempDir()
    // find a port for the cloud, then keep the cloud away so the node must buffer
    const probe = await testCloud(dir, { file: 'probe.db' })
    const port = Number(new URL(probe.brokerUrl).port)
    await probe.stop()
    const config = nodeConfigFile(dir, 'node-r', `mqtt://127.0.0.1:${port}`, {
      uplink: { ackTimeout: '1s', reconnect: { min: '100ms', max: '500ms' } },
      checkpoint: { interval: '200ms' },
      pipelines: [windowPipeline('250ms', { id: 'temps' })],
    })

    const first = await nodeChild(config, '0.05')
    await publish(first.url, 40, 0)
    // the window closes while the cloud is away: a summary waits in the outbox
    await until(
      () => /summaries=[1-9]\d* .*backlog=[1-9]/.test(first.child.out()),
      'a summary held in the outbox',
    )
    first.child.proc.kill('SIGTERM')
    expect(await first.child.exited).toBe(0)

    const ob = await openSqliteOutbox({ path: join(dir, 'node-r', 'outbox.db') })
    const held = ob.stats().byStream.summary
    await ob.close()
    expect(held?.records).toBeGreaterThan(0) // unsent batches survived the stop
    const firstLastSeq = held!.lastSeq

    const second = await nodeChild(config, '0.05')
    await publish(second.url, 40, 1000)
    const cloud = await testCloud(dir, { port })

    const rows = await until(async () => {
      const r = await cloud.store.querySummaries({ nodeId: 'node-r' })
      return r.reduce((a, x) => a + x.count, 0) === 80 ? r : null
    }, 'all 80 readings summarized and stored')
    const seqs = rows.map((r) => r.seq).sort((a, b) => a - b)
    expect(seqs).toEqual(seqs.map((_, i) => i + 1)) // no gap, no duplicate across the restart
    expect(seqs[seqs.length - 1]!).toBeGreaterThan(firstLastSeq) // the second run continued the numbering
    expect(rows.filter((r) => r.seq > firstLastSeq).every((r) => r.max >= 1000 || r.min < 1000)).toBe(true)
    second.child.proc.kill('SIGTERM')
    expect(await second.child.exited).toBe(0)
  })
})
