import { createServer } from 'node:net'
import { fakeClock, tempDir, waitFor } from '@fogline/testkit'
import { Aedes } from 'aedes'
import { describe, expect, it, onTestFinished } from 'vitest'
import { testNode, windowPipeline } from '../fleet.js'
import { broker, captureLog, tryConnect } from './helpers.js'
import { CONNECT, rawClient } from './raw.js'

/** Must show 1: each limit, counted and logged, the offender throttled or disconnected, the others unaffected. */
describe('broker limits', () => {
  it('maxConnections: the client past the limit gets CONNACK 3; those in keep publishing', async () => {
    const log = captureLog()
    const got: string[] = []
    const b = await broker({ limits: { maxConnections: 2 }, log, onMessage: (t) => got.push(t) })
    const a = await tryConnect(b.url, { clientId: 'a' })
    await tryConnect(b.url, { clientId: 'b' })
    const c = await tryConnect(b.url, { clientId: 'c' })
    expect(c.code).toBe(3)
    expect(b.counters().limits.maxConnections).toBe(1)
    expect(log.lines[0]).toMatchObject({ limit: 'maxConnections', clientId: 'c' })
    await a.client!.publishAsync('x/1', '1', { qos: 1 })
    await waitFor(() => got.length === 1, 'a still publishes')
  })

  it('a fog node honours its config broker.limits: maxConnections 3 refuses the 4th with CONNACK 3, counted', async () => {
    // startNode builds its broker from the config; the broker's default cap (1,000) must not win over it
    const dir = tempDir('fogline-limits-', onTestFinished).path
    // no cloud: the uplink's endpoint refuses (nothing listens on the discard port) and the node keeps going
    const node = await testNode(dir, 'lim', 'mqtt://127.0.0.1:9', {
      broker: { host: '127.0.0.1', port: 0, limits: { maxConnections: 3 } },
      pipelines: [windowPipeline('1s')],
    })
    for (const id of ['a', 'b', 'c'])
      expect((await tryConnect(node.brokerUrl, { clientId: id })).client).toBeDefined()
    const d = await tryConnect(node.brokerUrl, { clientId: 'd' })
    expect(d.code).toBe(3) // [MQTT-3.2.2.3] 3: server unavailable
    expect(node.broker.counters().limits.maxConnections).toBe(1)
    expect(node.broker.clients()).toBe(3)
  })

  it('publishRate: a fast client is throttled (token bucket on the injected clock); another is not', async () => {
    const clock = fakeClock()
    const log = captureLog()
    const got: string[] = []
    const b = await broker({
      limits: { publishRate: 5 },
      clock,
      log,
      onMessage: (_t, p, c) => got.push(`${c}:${p}`),
    })
    const fast = (await tryConnect(b.url, { clientId: 'fast' })).client!
    const calm = (await tryConnect(b.url, { clientId: 'calm' })).client!
    const sent = Array.from({ length: 10 }, (_, i) => fast.publishAsync('s/fast', String(i), { qos: 1 }))
    await waitFor(() => got.length === 5, 'the burst of five')
    await waitFor(() => b.counters().limits.publishRate > 0, 'throttle counted')
    for (let i = 0; i < 3; i++) await calm.publishAsync('s/calm', String(i), { qos: 1 })
    await waitFor(() => got.filter((g) => g.startsWith('calm:')).length === 3, 'calm is not held')
    expect(got.filter((g) => g.startsWith('fast:'))).toHaveLength(5)
    expect(log.lines.filter((l) => l.limit === 'publishRate')).toHaveLength(1)
    await clock.advanceAsync(1000)
    await Promise.all(sent)
    expect(got.filter((g) => g.startsWith('fast:'))).toEqual(
      Array.from({ length: 10 }, (_, i) => `fast:${i}`),
    )
  })

  it('publishBytesPerSec: payload bytes over the rate hold the sender until the clock moves', async () => {
    const clock = fakeClock()
    const got: number[] = []
    const b = await broker({
      limits: { publishBytesPerSec: 1000 },
      clock,
      onMessage: (_t, p) => got.push(p.length),
    })
    const c = (await tryConnect(b.url, { clientId: 'big' })).client!
    const sent = [1, 2, 3].map(() => c.publishAsync('s/big', Buffer.alloc(600), { qos: 1 }))
    await waitFor(() => got.length === 1 && b.counters().limits.publishBytesPerSec > 0, 'second held')
    await clock.advanceAsync(2000)
    await Promise.all(sent)
    expect(got).toEqual([600, 600, 600])
  })

  it('maxTopicLength and maxTopicLevels: a publish over either disconnects; a filter over either gets 0x80', async () => {
    const log = captureLog()
    const got: string[] = []
    const b = await broker({
      limits: { maxTopicLength: 20, maxTopicLevels: 3 },
      log,
      onMessage: (t) => got.push(t),
    })
    const good = (await tryConnect(b.url, { clientId: 'good' })).client!
    for (const [topic, limit] of [
      ['s/aaaaaaaaaaaaaaaaaaaaaaaaa', 'maxTopicLength'],
      ['a/b/c/d', 'maxTopicLevels'],
    ] as const) {
      const raw = await rawClient(b.port)
      raw.send(CONNECT())
      await raw.next('connack')
      raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] })
      expect(await raw.next('suback')).toMatchObject({ granted: [128] })
      raw.send({ cmd: 'publish', topic, payload: Buffer.from('1'), qos: 1, messageId: 2 })
      await raw.closed
      expect(b.counters().limits[limit]).toBe(2)
      expect(log.lines.some((l) => l.limit === limit)).toBe(true)
    }
    await good.publishAsync('a/b/c', 'ok', { qos: 1 })
    await waitFor(() => got.length === 1, 'the good client is unaffected')
    expect(got).toEqual(['a/b/c'])
  })

  it('maxInflight: a client holding back PUBREL past the limit is disconnected', async () => {
    const log = captureLog()
    const b = await broker({ limits: { maxInflight: 2 }, log })
    const raw = await rawClient(b.port)
    raw.send(CONNECT())
    await raw.next('connack')
    for (const id of [1, 2, 3])
      raw.send({ cmd: 'publish', topic: 'q/2', payload: Buffer.from('x'), qos: 2, messageId: id })
    await raw.closed
    expect(b.counters().limits.maxInflight).toBe(1)
    expect(log.lines[0]).toMatchObject({ limit: 'maxInflight', max: 2 })
  })

  it('connectTimeout: a socket that sends no CONNECT is closed when the injected clock passes the timeout', async () => {
    const clock = fakeClock()
    const log = captureLog()
    const b = await broker({ limits: { connectTimeout: 5000 }, clock, log })
    const silent = await rawClient(b.port)
    const good = (await tryConnect(b.url, { clientId: 'good' })).client!
    await waitFor(() => clock.pending() >= 1, 'timer armed for the silent socket')
    clock.advance(4999)
    expect(silent.isClosed()).toBe(false)
    clock.advance(1)
    await silent.closed
    expect(b.counters().limits.connectTimeout).toBe(1)
    expect(log.lines[0]).toMatchObject({ limit: 'connectTimeout' })
    expect(good.connected).toBe(true)
  })
  it('connectTimeout: once CONNECT is in, nothing of the timer stays on the connection (memory per connection)', async () => {
    type WithClients = { clients: Record<string, { conn: NodeJS.EventEmitter }> }
    const closeListeners = (a: unknown, id: string) =>
      (a as WithClients).clients[id]!.conn.listenerCount('close')
    // baseline: what bare aedes itself keeps on a connected client's socket
    const bare = await Aedes.createBroker()
    const server = createServer((s) => bare.handle(s))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    onTestFinished(() => new Promise<void>((r) => bare.close(() => server.close(() => r()))))
    const port = (server.address() as { port: number }).port
    await tryConnect(`mqtt://127.0.0.1:${port}`, { clientId: 'bare' })
    await waitFor(() => (bare as unknown as WithClients).clients['bare'], 'bare client registered')

    const clock = fakeClock()
    const b = await broker({ limits: { connectTimeout: 5000 }, clock })
    const good = (await tryConnect(b.url, { clientId: 'good' })).client!
    // aedes emits 'connected' (which clears the timer) around its CONNACK write: wait for it
    await waitFor(() => clock.pending() === 0, 'connect timer cleared')
    // no more than bare aedes' own: the listener's socket set (listeners.ts, so close() can destroy every
    // socket) and the client's close share one listener (slim.ts)
    expect(closeListeners(bare, 'bare')).toBe(1)
    expect(closeListeners(b.aedes, 'good')).toBe(1)
    clock.advance(10_000)
    expect(good.connected).toBe(true)
    expect(b.counters().limits.connectTimeout).toBe(0)
  })
})
