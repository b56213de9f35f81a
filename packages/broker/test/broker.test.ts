import { waitFor } from '@fogline/testkit'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { startBroker } from '../src/index.js'

describe('fog broker (aedes on port 0)', () => {
  it('hands client publishes to onMessage and forwards them to subscribers', async () => {
    const got: Array<[string, string, string]> = []
    const b = await startBroker({ port: 0, onMessage: (t, p, c) => got.push([t, p.toString(), c]) })
    onTestFinished(() => b.close())
    expect(b.port).toBeGreaterThan(0)
    const sub = await mqtt.connectAsync(b.url, { clientId: 'sub' })
    onTestFinished(() => sub.endAsync())
    const forwarded: string[] = []
    sub.on('message', (t) => forwarded.push(t))
    await sub.subscribeAsync('sensors/#')
    const pub = await mqtt.connectAsync(b.url, { clientId: 'sensor-1' })
    onTestFinished(() => pub.endAsync())
    await pub.publishAsync('sensors/t1/temperature', '21.5', { qos: 1 })
    await waitFor(
      () => got.length === 1 && forwarded.length === 1,
      'got.length === 1 && forwarded.length === 1',
    )
    expect(got[0]).toEqual(['sensors/t1/temperature', '21.5', 'sensor-1'])
    expect(forwarded).toEqual(['sensors/t1/temperature'])
  })

  it('reports oversized payloads instead of handing them on', async () => {
    const got: string[] = []
    const over: number[] = []
    const b = await startBroker({
      port: 0,
      maxPayload: 100,
      onMessage: (t) => got.push(t),
      onOversize: (_t, n) => over.push(n),
    })
    onTestFinished(() => b.close())
    const pub = await mqtt.connectAsync(b.url)
    onTestFinished(() => pub.endAsync())
    await pub.publishAsync('sensors/a/x', Buffer.alloc(101), { qos: 1 })
    await pub.publishAsync('sensors/a/y', Buffer.alloc(100), { qos: 1 })
    await waitFor(() => got.length === 1 && over.length === 1, 'got.length === 1 && over.length === 1')
    expect(got).toEqual(['sensors/a/y'])
    expect(over).toEqual([101])
  })

  it('refuses wrong credentials with CONNACK code 4 [MQTT-3.2.2-3]', async () => {
    const failures: string[] = []
    const b = await startBroker({
      port: 0,
      users: { gw: 's3cret' },
      onAuthFailure: (id) => failures.push(id),
    })
    onTestFinished(() => b.close())
    const err = await mqtt
      .connectAsync(b.url, { clientId: 'intruder', username: 'gw', password: 'wrong', reconnectPeriod: 0 })
      .then(
        () => null,
        (e: Error & { code?: number }) => e,
      )
    expect(err?.code).toBe(4)
    expect(failures).toEqual(['intruder'])
    const ok = await mqtt.connectAsync(b.url, { username: 'gw', password: 's3cret', reconnectPeriod: 0 })
    expect(ok.connected).toBe(true)
    await ok.endAsync()
  })

  it('survives a long queue of messages released at once (mqemitter recursion guarded), delivering every one', async () => {
    const b = await startBroker({ port: 0 })
    onTestFinished(() => b.close())
    type Mq = {
      on(topic: string, fn: (m: { topic: string }, cb: () => void) => void, done?: () => void): void
      emit(m: { topic: string; payload: Buffer }, cb?: () => void): void
      length: number
    }
    const mq = b.aedes.mq as Mq
    // the first `concurrency` deliveries are held (a stalled subscriber), the rest queue inside mqemitter
    const held: Array<() => void> = []
    let delivered = 0
    let hold = true
    await new Promise<void>((r) =>
      mq.on(
        'guard/t',
        (_m, cb) => {
          delivered++
          if (hold) held.push(cb)
          else cb() // synchronous completion: without the guard, each one recurses into the next
        },
        r,
      ),
    )
    const n = 20_000
    for (let i = 0; i < n; i++) mq.emit({ topic: 'guard/t', payload: Buffer.from('x') })
    expect(mq.length).toBeGreaterThan(10_000)
    hold = false
    expect(() => {
      for (const cb of held.splice(0)) cb()
    }).not.toThrow()
    await waitFor(() => delivered === n && mq.length === 0, 'delivered === n && mq.length === 0', 10_000)
  })
})
