import { join } from 'node:path'
import {
  type Ack,
  decodeAck,
  downTopic,
  encodeBatch,
  encodeMessage,
  FoglineError,
  type UpStream,
  upTopic,
  type WireRecord,
} from '@fogline/protocol'
import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { openSqliteStore, type Store } from '../src/index.js'
import { summaryBody, type TestCloud, tempDir, testClient, testCloud, until } from './helpers.js'

/** An MQTT client standing for node `nodeId` on the cloud's broker, and the acks it has received so far. */
async function nodeClient(cloud: TestCloud, nodeId: string): Promise<{ node: MqttClient; acks: Ack[] }> {
  const node = await testClient(cloud.brokerUrl)
  const acks: Ack[] = []
  node.on('message', (t, p) => {
    if (t === downTopic(nodeId, 'ack')) acks.push(decodeAck(p))
  })
  await node.subscribeAsync(downTopic(nodeId, 'ack'), { qos: 1 })
  return { node, acks }
}

/** A batch as node `nodeId` sends it (sentAt 1). */
const batch = (nodeId: string, batchId: string, records: WireRecord[], stream: UpStream = 'summary') =>
  encodeBatch({ nodeId, stream, batchId, sentAt: 1, records })
/** summary records with these seqs, ts 1 */
const summaries = (seqs: number[]) => seqs.map((seq) => ({ seq, ts: 1, body: summaryBody(seq) }))

describe('ingest over a real broker', () => {
  it('stores a batch once when it is sent twice, and acks both sends after the commit', async () => {
    const cloud = await testCloud()
    const { node, acks } = await nodeClient(cloud, 'node-a')
    const payload = batch('node-a', 'b1', summaries([1, 2, 3]))
    await node.publishAsync(upTopic('node-a', 'summary'), payload, { qos: 1 })
    await until(() => acks.length === 1, 'first ack')
    // the ack is published only after the commit: the rows are there when it arrives
    expect(await cloud.store.countRecords({ nodeId: 'node-a', stream: 'summary' })).toBe(3)
    await node.publishAsync(upTopic('node-a', 'summary'), payload, { qos: 1 })
    await until(() => acks.length === 2, 'second ack')
    expect(acks.map((a) => a.ranges)).toEqual([[[1, 3]], [[1, 3]]])
    expect(acks.every((a) => a.batchId === 'b1' && a.stream === 'summary' && !a.rejected)).toBe(true)
    expect(await cloud.store.countRecords({ nodeId: 'node-a', stream: 'summary' })).toBe(3)
    const rows = await cloud.store.querySummaries({ nodeId: 'node-a' })
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3])
    expect(rows[0]).toMatchObject({
      nodeId: 'node-a',
      stream: 'summary',
      pipelineId: 'p1',
      count: 10,
      min: 1,
      max: 10,
      mean: 5.5,
      sum: 55,
    })
  })

  it('dead-letters a batch that does not decode and acks it as rejected so the node stops resending', async () => {
    const cloud = await testCloud()
    const { node, acks } = await nodeClient(cloud, 'node-b')
    // a map with a batchId but records that are not records: FOG_BATCH_INVALID
    const bad = encodeMessage({
      nodeId: 'node-b',
      stream: 'summary',
      batchId: 'bad-1',
      sentAt: 1,
      records: [{ seq: 'x' }],
    })
    await node.publishAsync(upTopic('node-b', 'summary'), bad, { qos: 1 })
    await until(() => acks.length === 1, 'rejected ack')
    expect(acks[0]).toMatchObject({ batchId: 'bad-1', ranges: [], rejected: { code: 'FOG_BATCH_INVALID' } })
    // unknown codec version: dead-lettered with FOG_CODEC_VERSION (no batchId readable, so no ack)
    await node.publishAsync(upTopic('node-b', 'event'), Buffer.from([9, 0, 1, 2, 3]), { qos: 1 })
    const dl = await until(async () => {
      const d = await cloud.store.listDeadLetters({ nodeId: 'node-b' })
      return d.length === 2 ? d : null
    }, 'two dead letters')
    expect(dl.map((d) => d.code).sort()).toEqual(['FOG_BATCH_INVALID', 'FOG_CODEC_VERSION'])
    expect(dl.find((d) => d.code === 'FOG_BATCH_INVALID')).toMatchObject({
      topic: 'fogline/v1/node-b/up/summary',
      stream: 'summary',
    })
    expect(dl.find((d) => d.code === 'FOG_BATCH_INVALID')!.reason).toMatch(/seq/)
    expect(await cloud.store.countRecords({ nodeId: 'node-b' })).toBe(0)

    // the aggregator goes on: a good batch after the bad ones is stored and acked
    const good = batch('node-b', 'g1', summaries([1]))
    await node.publishAsync(upTopic('node-b', 'summary'), good, { qos: 1 })
    await until(() => acks.some((a) => a.batchId === 'g1'), 'good ack')
    expect(await cloud.store.countRecords({ nodeId: 'node-b' })).toBe(1)
  })

  it('stores the good records of a batch, dead-letters the bad record once even when resent, acks all seqs', async () => {
    const cloud = await testCloud()
    const { node, acks } = await nodeClient(cloud, 'node-c')
    const records = [
      { seq: 1, ts: 1, body: summaryBody(1) },
      { seq: 2, ts: 1, body: { pipelineId: 'p1', sensorId: 's1' } },
      { seq: 3, ts: 1, body: summaryBody(3) },
    ]
    const payload = batch('node-c', 'm1', records)
    await node.publishAsync(upTopic('node-c', 'summary'), payload, { qos: 1 })
    await node.publishAsync(upTopic('node-c', 'summary'), payload, { qos: 1 })
    await until(() => acks.length === 2, 'two acks')
    expect(acks[0]).toMatchObject({ ranges: [[1, 3]] })
    expect(acks[0]!.rejected).toBeUndefined()
    expect((await cloud.store.querySummaries({ nodeId: 'node-c' })).map((r) => r.seq)).toEqual([1, 3])
    const dl = await cloud.store.listDeadLetters({ nodeId: 'node-c' })
    expect(dl).toHaveLength(1)
    expect(dl[0]).toMatchObject({ seq: 2, code: 'FOG_BATCH_INVALID' })
  })

  it('refuses a batch whose nodeId does not match its topic (a node cannot write for another)', async () => {
    const cloud = await testCloud()
    const { node, acks } = await nodeClient(cloud, 'node-d')
    const payload = batch('node-x', 'x1', summaries([1]))
    await node.publishAsync(upTopic('node-d', 'summary'), payload, { qos: 1 })
    await until(() => acks.length === 1, 'rejected ack')
    expect(acks[0]!.rejected?.code).toBe('FOG_BATCH_INVALID')
    expect(await cloud.store.countRecords({})).toBe(0)
  })

  it('takes reported state sent through the outbox as a batch: stored newest-first by seq and acked', async () => {
    const cloud = await testCloud()
    const { node, acks } = await nodeClient(cloud, 'node-e')
    const send = (batchId: string, seqs: number[]) =>
      node.publishAsync(
        upTopic('node-e', 'reported'),
        batch(
          'node-e',
          batchId,
          seqs.map((seq) => ({ seq, ts: 1, body: { appliedVersion: seq, status: 'applied' } })),
          'reported',
        ),
        { qos: 1 },
      )
    await send('r1', [1, 2])
    await send('r0', [1]) // a late resend of an older one
    await until(() => acks.length === 2, 'two acks')
    expect(acks.map((a) => [a.batchId, a.stream, a.ranges])).toEqual([
      ['r1', 'reported', [[1, 2]]],
      ['r0', 'reported', [[1, 1]]],
    ])
    expect((await cloud.fleet.get('node-e'))!.reported).toEqual({ appliedVersion: 2, status: 'applied' })
  })

  it('sends no ack when the commit fails, so the node resends; the aggregator goes on', async () => {
    // a real SQLite store behind a fault injector that fails the first commit
    const real = await openSqliteStore({ path: join(tempDir(), 'faulty.db') })
    let failures = 1
    const store: Store = {
      ...real,
      kind: real.kind,
      async insertBatch(b, at) {
        if (failures-- > 0) throw new FoglineError('FOG_STORE_FAILED', 'disk I/O error (injected)')
        return real.insertBatch(b, at)
      },
    }
    const cloud = await testCloud({ store })
    const { node, acks } = await nodeClient(cloud, 'node-f')
    const payload = batch('node-f', 'f1', summaries([1, 2]))
    await node.publishAsync(upTopic('node-f', 'summary'), payload, { qos: 1 })
    // the next message is handled only after the failed one (one at a time), so a heartbeat marks "handled"
    await node.publishAsync(upTopic('node-f', 'heartbeat'), encodeMessage({ online: true }), { qos: 1 })
    await until(() => cloud.fleet.get('node-f'), 'heartbeat after the failed batch handled')
    expect(acks).toEqual([])
    expect(await cloud.store.countRecords({ nodeId: 'node-f' })).toBe(0)
    await node.publishAsync(upTopic('node-f', 'summary'), payload, { qos: 1 }) // the node's resend
    await until(() => acks.length === 1, 'ack of the resend')
    expect(acks[0]).toMatchObject({ batchId: 'f1', ranges: [[1, 2]] })
    expect(await cloud.store.countRecords({ nodeId: 'node-f' })).toBe(2)
  })
})
