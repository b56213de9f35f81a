import { waitFor } from '@fogline/testkit'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { startBroker } from '../src/index.js'

/** how many times aedes' router (mqemitter) was asked to deliver a client publish */
function routed(b: Awaited<ReturnType<typeof startBroker>>): () => number {
  const mq = (b.aedes as unknown as { mq: { emit: (p: { topic: string }, cb: unknown) => unknown } }).mq
  const emit = mq.emit.bind(mq)
  let n = 0
  mq.emit = (p, cb) => {
    if (!p.topic.startsWith('$')) n++
    return emit(p, cb)
  }
  return () => n
}

describe('skipUnroutable: no routing work for publishes nobody can receive', () => {
  it('with no subscriber a publish skips the router and still reaches onMessage; a subscriber gets every later one', async () => {
    const got: string[] = []
    const b = await startBroker({ port: 0, onMessage: (t, p) => got.push(`${t}=${p}`) })
    onTestFinished(() => b.close())
    const n = routed(b)
    const pub = await mqtt.connectAsync(b.url, { clientId: 'p' })
    onTestFinished(() => pub.endAsync(true))
    await pub.publishAsync('sensors/a/t', '1', { qos: 1 })
    await pub.publishAsync('sensors/a/t', '2', { qos: 0 })
    await waitFor(() => got.length === 2, 'got.length === 2')
    expect(n()).toBe(0)
    const sub = await mqtt.connectAsync(b.url, { clientId: 's' })
    onTestFinished(() => sub.endAsync(true))
    const fwd: string[] = []
    sub.on('message', (_t, p) => fwd.push(p.toString()))
    await sub.subscribeAsync('sensors/#', { qos: 1 })
    await pub.publishAsync('sensors/a/t', '3', { qos: 1 })
    await waitFor(() => fwd.length === 1, 'fwd.length === 1')
    expect(fwd).toEqual(['3'])
    await sub.unsubscribeAsync('sensors/#')
    await pub.publishAsync('sensors/a/t', '4', { qos: 1 })
    await waitFor(() => got.length === 4, 'got.length === 4')
    // routed once: for message 3 only
    expect(n()).toBe(1)
    expect(got).toEqual(['sensors/a/t=1', 'sensors/a/t=2', 'sensors/a/t=3', 'sensors/a/t=4'])
  })

  it('[MQTT-3.3.1-5] a retained message is still stored for a later subscriber', async () => {
    const b = await startBroker({ port: 0 })
    onTestFinished(() => b.close())
    const pub = await mqtt.connectAsync(b.url, { clientId: 'p' })
    onTestFinished(() => pub.endAsync(true))
    await pub.publishAsync('cfg/x', 'kept', { qos: 1, retain: true })
    const sub = await mqtt.connectAsync(b.url, { clientId: 's' })
    onTestFinished(() => sub.endAsync(true))
    const fwd: string[] = []
    sub.on('message', (_t, p) => fwd.push(p.toString()))
    await sub.subscribeAsync('cfg/#')
    await waitFor(() => fwd.length === 1, 'fwd.length === 1')
    expect(fwd).toEqual(['kept'])
  })

  it('[MQTT-3.1.2-5] a persistent session that is offline still gets its QoS 1 messages queued', async () => {
    const b = await startBroker({ port: 0 })
    onTestFinished(() => b.close())
    const opts = { clientId: 'durable-sub', clean: false, reconnectPeriod: 0 }
    const sub = await mqtt.connectAsync(b.url, opts)
    await sub.subscribeAsync('alerts/#', { qos: 1 })
    await sub.endAsync()
    const pub = await mqtt.connectAsync(b.url, { clientId: 'p' })
    onTestFinished(() => pub.endAsync(true))
    await pub.publishAsync('alerts/1', 'while away', { qos: 1 })
    const again = mqtt.connect(b.url, opts)
    onTestFinished(() => again.endAsync(true))
    const fwd: string[] = []
    again.on('message', (_t, p) => fwd.push(p.toString()))
    await waitFor(() => fwd.length === 1, 'fwd.length === 1')
    expect(fwd).toEqual(['while away'])
  })
})

describe('fastPuback: one 4-byte write per PUBACK', () => {
  it('[MQTT-3.4.1] answers a QoS 1 PUBLISH with exactly 40 02 <id>', async () => {
    const { createConnection } = await import('node:net')
    const b = await startBroker({ port: 0 })
    onTestFinished(() => b.close())
    const sock = createConnection({ host: b.host, port: b.port })
    onTestFinished(() => void sock.destroy())
    const got: Buffer[] = []
    sock.on('data', (d) => got.push(d))
    await new Promise((r) => sock.once('connect', r))
    // CONNECT (MQTT 3.1.1, clean, keep alive 0, client id "r"), then PUBLISH QoS 1 id 0x1234 topic "a" payload "1"
    sock.write(Buffer.from([0x10, 13, 0, 4, 77, 81, 84, 84, 4, 2, 0, 0, 0, 1, 114]))
    await waitFor(() => Buffer.concat(got).length >= 4, 'Buffer.concat(got).length >= 4')
    sock.write(Buffer.from([0x32, 6, 0, 1, 97, 0x12, 0x34, 49]))
    await waitFor(() => Buffer.concat(got).length >= 8, 'Buffer.concat(got).length >= 8')
    expect([...Buffer.concat(got).subarray(4)]).toEqual([0x40, 2, 0x12, 0x34])
    // and it went through the patched writer, on the mqtt-packet that aedes loads
    const { createRequire } = await import('node:module')
    const mp = createRequire(createRequire(import.meta.url).resolve('aedes'))('mqtt-packet')
    expect(mp.__foglineFastPuback).toBe(true)
    // the client's parser buffers into a plain BufferList, not a Duplex stream
    const client = (b.aedes as unknown as { clients: Record<string, { _parser: { _list: object } }> })
      .clients['r']
    expect(client?._parser._list).toBeDefined()
    expect('pipe' in client!._parser._list).toBe(false)
  })
})
