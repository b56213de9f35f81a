import { waitFor } from '@fogline/testkit'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { startBroker } from '../src/index.js'

describe('acceptDurable: the PUBACK waits for the durable ingest (aedes on port 0)', () => {
  it('[MQTT-4.3.2-2] holds a QoS 1 PUBACK until accept says done; the message skips onMessage', async () => {
    const held: Array<{ topic: string; done: (err?: Error | null) => void }> = []
    const plain: string[] = []
    const b = await startBroker({
      port: 0,
      onMessage: (t) => plain.push(t),
      acceptDurable: (topic, _payload, _id, done) => held.push({ topic, done }),
    })
    onTestFinished(() => b.close())
    const c = await mqtt.connectAsync(b.url, { clientId: 'q1' })
    onTestFinished(() => c.endAsync(true))
    let acked = false
    c.publish('sensors/a/t', '1', { qos: 1 }, (err) => {
      acked = !err
    })
    await waitFor(() => held.length === 1, 'held.length === 1')
    // a PUBACK would have arrived by now if aedes had written it before the accept
    await c.publishAsync('sensors/qos0/t', '0', { qos: 0 })
    await waitFor(() => plain.length === 1, 'plain.length === 1')
    expect(acked).toBe(false)
    held[0]!.done()
    await waitFor(() => acked, 'acked')
    expect(plain).toEqual(['sensors/qos0/t'])
    expect(held.map((h) => h.topic)).toEqual(['sensors/a/t'])
  })

  it('an accept error drops the client without a PUBACK, and $SYS stays refused', async () => {
    const b = await startBroker({
      port: 0,
      acceptDurable: (_t, _p, _id, done) => done(new Error('disk full')),
    })
    onTestFinished(() => b.close())
    const c = await mqtt.connectAsync(b.url, { clientId: 'q2', reconnectPeriod: 0 })
    onTestFinished(() => c.endAsync(true))
    let acked = false
    c.publish('sensors/a/t', '1', { qos: 1 }, (err) => {
      acked = !err
    })
    await waitFor(() => !c.connected, '!c.connected')
    expect(acked).toBe(false)
    const seen: string[] = []
    const b2 = await startBroker({
      port: 0,
      acceptDurable: (t, _p, _id, done) => {
        seen.push(t)
        done()
      },
    })
    onTestFinished(() => b2.close())
    const c2 = await mqtt.connectAsync(b2.url, { clientId: 'q3', reconnectPeriod: 0 })
    onTestFinished(() => c2.endAsync(true))
    c2.publish('$SYS/x', '1', { qos: 1 })
    await waitFor(() => !c2.connected, '!c2.connected')
    expect(seen).toEqual([])
  })
})
