import { decodeBatch, upTopic } from '@fogline/protocol'
import { waitFor } from '@fogline/testkit'
import { connect } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { BacklogWindow } from '../src/flight.js'
import { dir, outboxIn, summaries, summary, testBroker, uplinkFor } from './helpers.js'

/** A cloud that receives batches and never acks them: what the node has in flight is all it sent. */
async function silentCloud(url: string) {
  const batches: Array<{ stream: string; seqs: number[] }> = []
  const c = connect(url, { protocolVersion: 4, reconnectPeriod: 0 })
  onTestFinished(() => c.end(true))
  c.on('message', (topic, payload) => {
    const b = decodeBatch(payload, { topic })
    batches.push({ stream: b.stream, seqs: b.records.map((r) => r.seq) })
  })
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () =>
      c.subscribe(upTopic('n1', 'summary'), { qos: 1 }, (e) => (e ? reject(e) : resolve())),
    )
    c.once('error', reject)
  })
  return batches
}

describe('uplink window: the backlog takes only the places its window allows', () => {
  it('8 backlog batches and a slow cloud: 3 go, and a live summary still goes at once', async () => {
    const d = dir()
    const broker = await testBroker()
    const batches = await silentCloud(broker.url)
    const ob = await outboxIn(d)
    await ob.append(summaries(40)) // stored before the uplink connects: backlog, 8 batches of 5
    const up = uplinkFor(ob, {
      urls: [broker.url],
      batchMaxRecords: 5,
      maxInFlight: 16,
      backlogWindow: 3,
    })
    up.start()
    await waitFor(() => batches.length >= 3, 'the first backlog batches')
    const [live] = await ob.append([{ stream: 'summary', ts: Date.now(), body: summary(99) }])
    await waitFor(() => batches.some((b) => b.seqs.includes(live!.seq)), 'the live summary sent')
    // nothing acked, no place freed: the window holds 3 backlog batches (oldest first) and the live one
    expect(batches.map((b) => b.seqs[0])).toEqual([1, 6, 11, live!.seq])
  })
})

describe('BacklogWindow: delay-based, as LEDBAT', () => {
  it('opens to max while backlog acks come back within the target: slow start, then one batch per window', () => {
    const w = new BacklogWindow()
    w.restart(4)
    // slow start: each timely ack adds a batch, 4 → 16 in 12 acks
    for (let i = 0; i < 12; i++) w.acked(20, 250, 16, i)
    expect(w.limit()).toBe(16)
    w.acked(400, 250, 16, 100) // a late ack: halved, and slow start is over
    expect(w.limit()).toBe(8)
    let acks = 0
    while (w.limit() < 16) {
      w.acked(20, 250, 16, 1000 + acks)
      acks++
    }
    // 8 → 16 now takes the sum of the window sizes in between (8 + 9 + … + 15 = 92 acks)
    expect(acks).toBeGreaterThanOrEqual(88)
    expect(acks).toBeLessThanOrEqual(96)
  })

  it('halves on a late ack, at most once per target, never below 1; target 0 opens it to max', () => {
    const w = new BacklogWindow()
    w.restart(16)
    w.acked(400, 250, 16, 10_000)
    expect(w.limit()).toBe(8)
    w.acked(400, 250, 16, 10_100) // the same queue seen again within the target: no second cut
    expect(w.limit()).toBe(8)
    w.acked(400, 250, 16, 10_250)
    expect(w.limit()).toBe(4)
    for (let t = 10_500; t < 20_000; t += 250) w.acked(900, 250, 16, t)
    expect(w.limit()).toBe(1)
    w.acked(900, 0, 16, 30_000)
    expect(w.limit()).toBe(16)
  })
})
