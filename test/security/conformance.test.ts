import mqttPacket from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { broker } from './helpers.js'
import { CONNECT, connectBytes, type RawClient, rawClient } from './raw.js'

/**
 * MQTT 3.1.1 MUSTs of the CONNECT, PUBLISH and SUBSCRIBE sections that aedes 1.x (or mqtt-packet under it)
 * does not enforce, each enforced by @fogline/broker's hooks (docs/security.md lists them with these tests).
 */
async function session(port: number): Promise<RawClient> {
  const r = await rawClient(port)
  r.send(CONNECT())
  expect(await r.next('connack')).toMatchObject({ returnCode: 0 })
  return r
}

describe('MQTT 3.1.1 conformance of the fog broker', () => {
  it('[MQTT-3.1.3-8] a zero-length client id without clean session gets CONNACK 0x02 and is closed', async () => {
    const b = await broker()
    const r = await rawClient(b.port)
    r.write(connectBytes('', 0x00))
    expect(await r.next('connack')).toMatchObject({ returnCode: 2 })
    await r.closed
    expect(b.counters().refused.clientId).toBe(1)
  })

  it('[MQTT-3.1.3-6, -7] a zero-length client id with clean session is accepted and given a unique id', async () => {
    const got: string[] = []
    const b = await broker({ onMessage: (_t, _p, id) => got.push(id) })
    for (const _ of [1, 2]) {
      const r = await rawClient(b.port)
      r.write(connectBytes('', 0x02))
      expect(await r.next('connack')).toMatchObject({ returnCode: 0 })
      r.send({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('1'), qos: 1, messageId: 1 })
      await r.next('puback')
    }
    expect(got).toHaveLength(2)
    expect(got[0]).not.toBe('')
    expect(got[0]).not.toBe(got[1])
  })

  it('[MQTT-3.1.2-22] a password without a user name closes the connection without CONNACK', async () => {
    const b = await broker()
    const r = await rawClient(b.port)
    const pw = Buffer.from([0, 2, 0x70, 0x77])
    r.write(connectBytes('x', 0x02 | 0x40, pw)) // password flag, no user name flag
    expect(await r.next()).toBeNull()
  })

  it('[MQTT-3.1.2-14] a will with QoS 3 and [MQTT-3.3.2-2] a will topic with a wildcard are refused', async () => {
    const b = await broker()
    const will = (topic: string) => {
      const t = Buffer.from(topic)
      return Buffer.concat([Buffer.from([0, t.length]), t, Buffer.from([0, 1, 0x78])])
    }
    const r1 = await rawClient(b.port)
    r1.write(connectBytes('w1', 0x02 | 0x04 | 0x18, will('w/t'))) // will flag, will QoS bits 11
    expect(await r1.next()).toBeNull()
    const r2 = await rawClient(b.port)
    r2.write(connectBytes('w2', 0x02 | 0x04, will('w/#')))
    expect(await r2.next()).toBeNull()
  })

  it('[MQTT-3.3.1-2] DUP on a QoS 0 PUBLISH closes the connection', async () => {
    const got: string[] = []
    const b = await broker({ onMessage: (t) => got.push(t) })
    const r = await session(b.port)
    const pkt = mqttPacket.generate({
      cmd: 'publish',
      topic: 'a',
      payload: Buffer.from('x'),
      qos: 0,
    } as never)
    pkt[0] = pkt[0]! | 0x08
    r.write(pkt)
    expect(await r.next()).toBeNull()
    expect(got).toEqual([])
  })

  it('[MQTT-4.7.3-2] U+0000 and [MQTT-1.5.3-1] ill-formed UTF-8 in a topic close the connection; in a filter: 0x80', async () => {
    const got: string[] = []
    const b = await broker({ onMessage: (t) => got.push(t) })
    const r1 = await session(b.port)
    r1.send({ cmd: 'publish', topic: 'a\u0000b', payload: Buffer.from('x'), qos: 0 })
    expect(await r1.next()).toBeNull()
    const r2 = await session(b.port)
    // topic bytes C3 28: a lead byte followed by a byte that cannot continue it
    r2.write(Buffer.from([0x30, 5, 0, 2, 0xc3, 0x28, 0x78]))
    expect(await r2.next()).toBeNull()
    const r3 = await session(b.port)
    r3.send({
      cmd: 'subscribe',
      messageId: 4,
      subscriptions: [
        { topic: 'a/\u0000', qos: 0 },
        { topic: 'ok/+', qos: 0 },
      ],
    })
    expect(await r3.next('suback')).toMatchObject({ granted: [128, 0] })
    expect(got).toEqual([])
  })

  it('MUSTs aedes already enforces stay enforced: [MQTT-3.1.2-3] reserved flag, [MQTT-4.7.1-2] # not last, [MQTT-3.8.1-1] SUBSCRIBE flags, [MQTT-3.1.2-2] level 5', async () => {
    const b = await broker()
    const r1 = await rawClient(b.port)
    r1.write(connectBytes('x', 0x03))
    expect(await r1.next()).toBeNull()
    const r2 = await session(b.port)
    r2.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/#/b', qos: 0 }] })
    expect(await r2.next()).toBeNull()
    const r3 = await session(b.port)
    const sub = mqttPacket.generate({
      cmd: 'subscribe',
      messageId: 3,
      subscriptions: [{ topic: 'a', qos: 0 }],
    } as never)
    sub[0] = 0x80
    r3.write(sub)
    expect(await r3.next()).toBeNull()
    const r4 = await rawClient(b.port)
    r4.send(CONNECT({ protocolVersion: 5 }))
    expect(await r4.next('connack')).toMatchObject({ returnCode: 1 })
  })
})
