import {
  MOSQUITTO_URL,
  mosquittoAvailable,
  startAckingStore,
  startFaultProxy,
  waitFor,
} from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { ackingCloud, dir, outboxIn, summaries, summary, uplinkFor } from './helpers.js'

const mosquittoUp = await mosquittoAvailable()

describe('adaptive drain', () => {
  it('after a reconnect, live records go ahead of the backlog, which drains oldest-first under drainRate', async () => {
    const d = dir()
    const { broker, store } = await ackingCloud(d)
    const proxy = await startFaultProxy(broker.port)
    onTestFinished(() => proxy.close())
    const ob = await outboxIn(d)
    await ob.append(
      Array.from({ length: 1500 }, (_, i) => ({
        stream: 'summary' as const,
        ts: Date.now() - 60_000,
        body: summary(i),
      })),
    )
    const up = uplinkFor(ob, {
      urls: [proxy.url],
      drainRate: 1000,
      batchMaxRecords: 100,
      reconnect: { min: 20, max: 100 },
      probeInterval: 200,
    })
    proxy.cut()
    up.start()
    await waitFor(() => up.stats().lastError, 'a connect refused while the link is cut')
    proxy.pass()
    await waitFor(() => up.stats().connected, 'connected')
    const live = await ob.append([
      { stream: 'event', ts: Date.now(), body: { name: 'live' } },
      { stream: 'summary', ts: Date.now(), body: summary(5000) },
    ])
    await waitFor(() => store.seqs('n1', 'summary').includes(live[1]!.seq), 'the live summary stored')
    // the live record overtook most of the backlog
    expect(store.seqs('n1', 'summary').length).toBeLessThan(1000)
    expect(store.seqs('n1', 'event')).toEqual([1])
    const mid = up.stats()
    expect(mid.backlogRecords).toBeGreaterThan(0)
    expect(mid.oldestUnsentAgeMs).toBeGreaterThanOrEqual(59_000)
    // the backlog itself goes oldest-first
    const got = store.seqs('n1', 'summary').filter((q) => q !== live[1]!.seq)
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i + 1))
    const t0 = Date.now()
    await waitFor(() => ob.stats().records === 0, 'backlog drained', 15_000)
    const secs = (Date.now() - t0) / 1000
    // capped at 1000 records/s: ~1.5k records cannot take much less than a second
    expect(secs).toBeGreaterThan(0.6)
    await waitFor(() => up.stats().etaSec === 0, 'eta 0 when empty')
    expect(up.stats().ackRate).toBeGreaterThan(0)
  })

  it('reports an ETA while a backlog drains', async () => {
    const d = dir()
    const { broker } = await ackingCloud(d)
    const ob = await outboxIn(d)
    await ob.append(
      Array.from({ length: 3000 }, (_, i) => ({ stream: 'raw' as const, ts: Date.now(), body: { i } })),
    )
    const up = uplinkFor(ob, { urls: [broker.url], drainRate: 1500, batchMaxRecords: 100 })
    up.start()
    const s = await waitFor(() => {
      const x = up.stats()
      return x.etaSec !== null && x.etaSec > 0 && x.backlogRecords > 0 && x.backlogRecords < 2000 ? x : null
    }, 'an ETA')
    expect(s.etaSec).toBeLessThan(20)
    await waitFor(() => ob.stats().records === 0, 'drained', 15_000)
  })
})

describe('protocol version', () => {
  it('falls back to MQTT 3.1.1 on aedes with protocolVersion auto', async () => {
    const d = dir()
    const { broker } = await ackingCloud(d)
    const ob = await outboxIn(d)
    const up = uplinkFor(ob, { urls: [broker.url], protocolVersion: 'auto' })
    up.start()
    await ob.append([{ stream: 'summary', ts: 1, body: summary(1) }])
    await waitFor(() => ob.stats().records === 0, 'delivered over 3.1.1')
  })

  it.skipIf(!mosquittoUp && !process.env.CI)(
    `speaks MQTT 5 to Mosquitto ${MOSQUITTO_URL}${mosquittoUp ? '' : ' (skipped: Mosquitto is not running)'}`,
    async () => {
      const d = dir()
      const url = MOSQUITTO_URL
      const nodeId = `n-${Math.random().toString(36).slice(2, 8)}`
      const store = await startAckingStore(url, d.file('cloud.db'), { protocolVersion: 5 })
      onTestFinished(() => store.close())
      const ob = await outboxIn(d)
      const up = uplinkFor(ob, { urls: [url], protocolVersion: 'auto' }, { nodeId })
      up.start()
      await ob.append(summaries(200))
      await waitFor(() => ob.stats().records === 0, 'delivered through Mosquitto')
      expect(store.seqs(nodeId, 'summary').length).toBe(200)
    },
  )
})
