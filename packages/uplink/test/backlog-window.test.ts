import { decodeBatch, upTopic } from '@fogline/protocol'
import { waitFor } from '@fogline/testkit'
import { connect } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
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

describe('uplink window: the backlog takes at most maxBacklogInFlight places', () => {
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
      maxBacklogInFlight: 3,
    })
    up.start()
    await waitFor(() => batches.length >= 3, 'the first backlog batches')
    const [live] = await ob.append([{ stream: 'summary', ts: Date.now(), body: summary(99) }])
    await waitFor(() => batches.some((b) => b.seqs.includes(live!.seq)), 'the live summary sent')
    // nothing acked, no place freed: the window holds 3 backlog batches (oldest first) and the live one
    expect(batches.map((b) => b.seqs[0])).toEqual([1, 6, 11, live!.seq])
  })
})
