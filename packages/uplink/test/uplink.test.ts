import { decodeBatch, decodeMessage, downTopic, encodeAck, toRanges, upTopic } from '@fogline/protocol'
import { waitFor } from '@fogline/testkit'
import { connect } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { ackingCloud, dir, outboxIn, summaries, summary, testBroker, uplinkFor } from './helpers.js'

describe('uplink against a real aedes broker and an acking store', () => {
  it('drains every stream exactly once and deletes only after the application ack', async () => {
    const d = dir()
    const { broker, store } = await ackingCloud(d)
    const ob = await outboxIn(d)
    await ob.append([
      ...summaries(300),
      ...Array.from({ length: 50 }, (_, i) => ({
        stream: 'event' as const,
        ts: i,
        body: { name: 'hot', v: i },
      })),
      ...Array.from({ length: 700 }, (_, i) => ({ stream: 'raw' as const, ts: i, body: { v: i } })),
      // desired-state reports: the acking store acks them too, so the outbox empties
      ...Array.from({ length: 10 }, (_, i) => ({
        stream: 'reported' as const,
        ts: i,
        body: { version: i + 1, status: 'applied', ts: i },
      })),
    ])
    const up = uplinkFor(ob, { urls: [broker.url], batchMaxRecords: 100 })
    up.start()
    await waitFor(() => ob.stats().records === 0, 'outbox empty')
    expect(store.seqs('n1', 'summary')).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
    expect(store.seqs('n1', 'event')).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    expect(store.seqs('n1', 'raw')).toEqual(Array.from({ length: 700 }, (_, i) => i + 1))
    expect(store.seqs('n1', 'reported')).toEqual(Array.from({ length: 10 }, (_, i) => i + 1))
    const s = up.stats()
    expect(s.acked).toBe(1060)
    expect(s.connected).toBe(true)
    expect(s.endpoint).toBe(broker.url)
    expect(s.backlogRecords).toBe(0)
    expect(s.etaSec).toBe(0)
    // drains new records without waiting for more traffic
    await ob.append([{ stream: 'summary', ts: 1, body: summary(301) }])
    await waitFor(
      () => store.seqs('n1', 'summary').length === 301,
      'record 301 stored: the commit alone drains',
    )
  })

  it('keeps records while acks are withheld (PUBACK alone deletes nothing), resends them with the same seqs', async () => {
    const d = dir()
    const { broker, store } = await ackingCloud(d)
    store.holdAcks(true)
    const ob = await outboxIn(d)
    const up = uplinkFor(ob, { urls: [broker.url], ackTimeout: 300 })
    up.start()
    await ob.append(summaries(20))
    await waitFor(() => store.received.batches >= 2, 'a resend after ackTimeout')
    expect(ob.stats().records).toBe(20)
    expect(up.stats().resent).toBeGreaterThanOrEqual(20)
    expect(store.received.duplicates).toBeGreaterThanOrEqual(20)
    store.holdAcks(false)
    await waitFor(() => ob.stats().records === 0, 'outbox empty after acks resume')
    expect(store.seqs('n1', 'summary')).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
  })

  it('publishes heartbeats, and the last will {online:false} when the link drops', async () => {
    const d = dir()
    const broker = await testBroker()
    const ob = await outboxIn(d)
    const watcher = connect(broker.url, { protocolVersion: 4 })
    onTestFinished(() => void watcher.end(true))
    const seen: Array<Record<string, unknown>> = []
    watcher.on('message', (_t, p) => seen.push(decodeMessage(p) as Record<string, unknown>))
    await new Promise<void>((r) =>
      watcher.once('connect', () => watcher.subscribe(upTopic('n1', 'heartbeat'), { qos: 1 }, () => r())),
    )
    const up = uplinkFor(
      ob,
      { urls: [broker.url] },
      { heartbeat: () => ({ online: true, backlogRecords: 7 }) },
    )
    up.start()
    await waitFor(() => seen.some((h) => h.online === true && h.backlogRecords === 7), 'a heartbeat')
    up.pause()
    await waitFor(() => seen.some((h) => h.online === false), 'the last will')
    expect(up.stats().connected).toBe(false)
    up.resume()
    await waitFor(() => up.stats().connected, 'reconnected after resume')
  })

  it('passes down messages other than acks to onDown', async () => {
    const d = dir()
    const broker = await testBroker()
    const ob = await outboxIn(d)
    const got: string[] = []
    const up = uplinkFor(ob, { urls: [broker.url] }, { onDown: (t) => got.push(t) })
    up.start()
    await waitFor(() => up.stats().connected, 'connected')
    const pub = connect(broker.url, { protocolVersion: 4 })
    onTestFinished(() => void pub.end(true))
    await new Promise<void>((r) => pub.once('connect', () => r()))
    await waitFor(async () => {
      pub.publish('fogline/v1/n1/down/desired', Buffer.from([1, 0, 0xc0]), { qos: 1 })
      pub.publish('fogline/v1/group/g1/down/desired', Buffer.from([1, 0, 0xc0]), { qos: 1 })
      // the next poll of waitFor looks again (and publishes again, until the subscription is in place)
      return got.includes('fogline/v1/n1/down/desired') && got.includes('fogline/v1/group/g1/down/desired')
    }, 'down messages')
  })

  it('counts a batch acked once when the acks of the batch and of its resends arrive together (issue 12: acked > sent)', async () => {
    const d = dir()
    const broker = await testBroker()
    // a cloud that holds its acks while the node resends, then acks every copy it got, back to back
    const cloud = connect(broker.url, { protocolVersion: 4 })
    onTestFinished(() => void cloud.end(true))
    const copies: Array<{ batchId: string; seqs: number[] }> = []
    cloud.on('message', (topic, payload) => {
      const b = decodeBatch(payload, { topic })
      copies.push({ batchId: b.batchId, seqs: b.records.map((r) => r.seq) })
    })
    await cloud.subscribeAsync(upTopic('n1', 'summary'), { qos: 1 })
    const ob = await outboxIn(d)
    const up = uplinkFor(ob, { urls: [broker.url], ackTimeout: 100 })
    up.start()
    await ob.append(summaries(20))
    await waitFor(() => copies.length >= 3, 'the batch and two resends')
    for (const c of copies.splice(0))
      cloud.publish(
        downTopic('n1', 'ack'),
        encodeAck({ stream: 'summary', batchId: c.batchId, ranges: toRanges(c.seqs) }),
        { qos: 1 },
      )
    await waitFor(() => ob.stats().records === 0, 'outbox empty')
    // every further copy (a resend in flight while the acks came) is acked too; nothing is counted twice
    await waitFor(() => up.stats().inFlight === 0, 'nothing in flight')
    expect(up.stats().sent).toBe(20)
    expect(up.stats().acked).toBe(20)
    expect(ob.stats().acked).toBe(20)
  })
})
