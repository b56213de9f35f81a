import { startBroker } from '@fogline/broker'
import { waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { CONNECT, rawClient } from './raw.js'

/** a broker whose durable accept holds each publish until the test lets it go (or fails it) */
async function holding(fail = false) {
  const held: Array<{ topic: string; done: (err?: Error | null) => void }> = []
  const plain: string[] = []
  const calls = { n: 0 }
  const b = await startBroker({
    port: 0,
    onMessage: (t) => void plain.push(t),
    acceptDurable: (topic, _p, _id, done) => {
      calls.n++
      if (fail) return done(new Error('journal: disk full'))
      held.push({ topic, done })
    },
  })
  onTestFinished(() => b.close())
  return { b, held, plain, calls }
}

const PUBLISH = (messageId: number, dup = false) => ({
  cmd: 'publish',
  topic: 'sensors/q2/t',
  payload: Buffer.from('{"value":1}'),
  qos: 2,
  messageId,
  dup,
})

describe('QoS 2 publishes go through the durable accept (the ingest journal) before their PUBREC', () => {
  it('[MQTT-4.3.3-2] holds the PUBREC until accept says done; the message skips onMessage; PUBREL gets PUBCOMP', async () => {
    const { b, held, plain } = await holding()
    const raw = await rawClient(b.port)
    raw.send(CONNECT({ clientId: 'q2a', clean: false }))
    await raw.next('connack')
    raw.send(PUBLISH(7))
    await waitFor(() => held.length === 1, 'the publish is handed to accept')
    // a fence: the broker answers this PINGREQ while the publish is held, on the same socket in order, so a
    // PUBREC written before the accept's done would arrive ahead of the PINGRESP
    raw.send({ cmd: 'pingreq' })
    expect(await raw.next()).toMatchObject({ cmd: 'pingresp' })
    held[0]!.done()
    expect(await raw.next('pubrec')).toMatchObject({ messageId: 7 })
    raw.send({ cmd: 'pubrel', messageId: 7 })
    expect(await raw.next('pubcomp')).toMatchObject({ messageId: 7 })
    expect(plain).toEqual([])
  })

  it('a resend of the same packet id before PUBREL is answered from the session, not accepted (journaled) twice', async () => {
    const { b, held } = await holding()
    const raw = await rawClient(b.port)
    raw.send(CONNECT({ clientId: 'q2b', clean: false }))
    await raw.next('connack')
    raw.send(PUBLISH(9))
    await waitFor(() => held.length === 1, 'the publish is handed to accept')
    held[0]!.done()
    await raw.next('pubrec')
    raw.send(PUBLISH(9, true))
    expect(await raw.next('pubrec')).toMatchObject({ messageId: 9 })
    expect(held).toHaveLength(1)
  })

  it('an accept error drops the client without a PUBREC, and its resend after reconnecting is accepted, not taken for a duplicate', async () => {
    const failing = await holding(true)
    const raw = await rawClient(failing.b.port)
    raw.send(CONNECT({ clientId: 'q2c', clean: false }))
    await raw.next('connack')
    raw.send(PUBLISH(11))
    expect(await raw.next('pubrec')).toBeNull()
    await raw.closed
    // the same session resends: aedes' incoming store must not still hold the packet the journal refused,
    // or it would answer PUBREC without handing it to accept (lost after a PUBREC)
    expect(failing.calls.n).toBe(1)
    const again = await rawClient(failing.b.port)
    again.send(CONNECT({ clientId: 'q2c', clean: false }))
    await again.next('connack')
    again.send(PUBLISH(11, true))
    // handed to accept again (which fails again and drops the client, still without a PUBREC)
    expect(await again.next('pubrec')).toBeNull()
    expect(failing.calls.n).toBe(2)
  })
})
