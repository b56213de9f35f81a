import { openSqliteOutbox } from '@fogline/outbox'
import { decodeBatch, encodeAck, UplinkConfig } from '@fogline/protocol'
import { startTestBroker, tempDir, waitFor } from '@fogline/testkit'
import { createUplink } from '@fogline/uplink'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { summary } from '../faults/helpers.js'

/** Must show 4: an ack naming a batch that was never sent deletes nothing. */
describe('the uplink applies an ack only to a batch it has in flight', () => {
  it('a forged ack (unknown batch, or a real batch id with foreign seqs) deletes nothing and counts ackUnknown; the real one deletes', async () => {
    const d = tempDir('fogline-ack-')
    onTestFinished(() => d.remove())
    const broker = await startTestBroker()
    onTestFinished(() => broker.close())
    const ob = await openSqliteOutbox({ path: d.file('outbox.db'), config: { commitInterval: 2 } })
    onTestFinished(() => ob.close())
    // the "cloud" sees the batches but never acks them: they stay in flight
    const cloud = await mqtt.connectAsync(broker.url, { clientId: 'cloud' })
    onTestFinished(() => cloud.endAsync(true))
    const batches: Array<{ batchId: string; seqs: number[] }> = []
    cloud.on('message', (_t, p) => {
      const b = decodeBatch(p)
      batches.push({ batchId: b.batchId, seqs: b.records.map((r) => r.seq) })
    })
    await cloud.subscribeAsync('fogline/v1/n1/up/summary', { qos: 1 })
    const up = createUplink({
      nodeId: 'n1',
      group: 'g',
      outbox: ob,
      config: UplinkConfig.parse({ urls: [broker.url], linger: 5, ackTimeout: 60_000, batchMaxRecords: 10 }),
    })
    onTestFinished(() => up.stop())
    up.start()
    await ob.append(
      Array.from({ length: 20 }, (_, i) => ({ stream: 'summary' as const, ts: i, body: summary(i) })),
    )
    await waitFor(() => batches.length === 2, 'two batches in flight')
    const ack = (batchId: string, ranges: Array<[number, number]>) =>
      cloud.publishAsync('fogline/v1/n1/down/ack', encodeAck({ stream: 'summary', batchId, ranges }), {
        qos: 1,
      })
    // a batch never sent, naming every record
    await ack('never-sent', [[1, 20]])
    // a real batch id, with seqs of the other batch too
    await ack(batches[0]!.batchId, [[1, 20]])
    // a real batch id under another stream
    await cloud.publishAsync(
      'fogline/v1/n1/down/ack',
      encodeAck({ stream: 'event', batchId: batches[0]!.batchId, ranges: [[1, 10]] }),
      { qos: 1 },
    )
    await waitFor(() => up.stats().ackUnknown === 3, 'three acks ignored and counted')
    expect(ob.stats().records).toBe(20)
    expect(up.stats().acked).toBe(0)
    // the real ack of the first batch deletes exactly its records
    const first = batches[0]!
    await ack(first.batchId, [[Math.min(...first.seqs), Math.max(...first.seqs)]])
    await waitFor(() => ob.stats().records === 10, 'the first batch deleted')
    expect(up.stats()).toMatchObject({ acked: 10, ackUnknown: 3 })
  })
})
