import { type Qos2Ids, startBroker } from '@fogline/broker'
import { waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { CONNECT, PUBLISH_Q2, rawClient } from './raw.js'

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

describe('QoS 2 publishes go through the durable accept (the ingest journal) before their PUBREC', () => {
  it('[MQTT-4.3.3-2] holds the PUBREC until accept says done; the message skips onMessage; PUBREL gets PUBCOMP', async () => {
    const { b, held, plain } = await holding()
    const raw = await rawClient(b.port)
    raw.send(CONNECT({ clientId: 'q2a', clean: false }))
    await raw.next('connack')
    raw.send(PUBLISH_Q2(7))
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
    raw.send(PUBLISH_Q2(9))
    await waitFor(() => held.length === 1, 'the publish is handed to accept')
    held[0]!.done()
    await raw.next('pubrec')
    raw.send(PUBLISH_Q2(9, true))
    expect(await raw.next('pubrec')).toMatchObject({ messageId: 9 })
    expect(held).toHaveLength(1)
  })

  it('an accept error drops the client without a PUBREC, and its resend after reconnecting is accepted, not taken for a duplicate', async () => {
    const failing = await holding(true)
    const raw = await rawClient(failing.b.port)
    raw.send(CONNECT({ clientId: 'q2c', clean: false }))
    await raw.next('connack')
    raw.send(PUBLISH_Q2(11))
    expect(await raw.next('pubrec')).toBeNull()
    await raw.closed
    // the same session resends: aedes' incoming store must not still hold the packet the journal refused,
    // or it would answer PUBREC without handing it to accept (lost after a PUBREC)
    expect(failing.calls.n).toBe(1)
    const again = await rawClient(failing.b.port)
    again.send(CONNECT({ clientId: 'q2c', clean: false }))
    await again.next('connack')
    again.send(PUBLISH_Q2(11, true))
    // handed to accept again (which fails again and drops the client, still without a PUBREC)
    expect(await again.next('pubrec')).toBeNull()
    expect(failing.calls.n).toBe(2)
  })
})

/** a broker with a durable accept and QoS 2 ids kept by the test, as the journal keeps them across a restart */
async function withIds(before: Array<[string, number]>) {
  const held = new Set(before.map(([c, m]) => `${c}:${m}`))
  const accepted: number[] = []
  const releases: Array<{ key: string; done: (err?: Error | null) => void }> = []
  const calls = { resent: 0, cleared: [] as string[] }
  // with `pending`, accepts are held (not yet committed) and syncs wait for the test
  let pending = false
  const syncs: Array<(err?: Error | null) => void> = []
  const waiting: Array<() => void> = []
  const ids: Qos2Ids = {
    held: (c, m) => held.has(`${c}:${m}`),
    resent: () => void calls.resent++,
    release: (c, m, done) => {
      held.delete(`${c}:${m}`)
      releases.push({ key: `${c}:${m}`, done })
    },
    clear: (c) => {
      calls.cleared.push(c)
      for (const k of [...held]) if (k.startsWith(`${c}:`)) held.delete(k)
    },
    durable: (done) => (pending ? syncs.push(done) : done()),
  }
  const b = await startBroker({
    port: 0,
    onMessage: () => {},
    acceptDurable: (_t, _p, clientId, done, messageId) => {
      accepted.push(messageId!)
      held.add(`${clientId}:${messageId}`)
      if (pending) waiting.push(() => done())
      else done()
    },
    qos2Ids: ids,
  })
  onTestFinished(() => b.close())
  const hold = (on: boolean) => {
    pending = on
  }
  /** the commit: every held accept and sync goes */
  const commit = () => {
    for (const f of waiting.splice(0)) f()
    for (const f of syncs.splice(0)) f()
  }
  return { b, held, accepted, releases, calls, hold, commit, syncs }
}

describe('QoS 2 packet ids kept past a restart (qos2Ids: the journal holds them)', () => {
  it('a resend (DUP) of an id held before the restart gets its PUBREC without being accepted again; its PUBREL waits for the release', async () => {
    const { b, accepted, releases, calls } = await withIds([['k1', 5]])
    const raw = await rawClient(b.port)
    raw.send(CONNECT({ clientId: 'k1', clean: false }))
    await raw.next('connack')
    raw.send(PUBLISH_Q2(5, true))
    expect(await raw.next('pubrec')).toMatchObject({ messageId: 5 })
    expect(accepted).toEqual([])
    expect(calls.resent).toBe(1)
    raw.send({ cmd: 'pubrel', messageId: 5 })
    await waitFor(() => releases.length === 1, 'the PUBREL releases the id')
    // the PUBCOMP waits for the release to be durable (fence: the PINGRESP comes first)
    raw.send({ cmd: 'pingreq' })
    expect(await raw.next()).toMatchObject({ cmd: 'pingresp' })
    releases[0]!.done()
    expect(await raw.next('pubcomp')).toMatchObject({ messageId: 5 })
    expect(releases[0]!.key).toBe('k1:5')
  })

  it('a PUBREL of an id PUBRECed before the restart (aedes never saw it) releases it; a resend without DUP (as mqtt.js sends it) is known too; a released id is new again', async () => {
    const { b, accepted, releases } = await withIds([
      ['k2', 3],
      ['k2', 4],
    ])
    const raw = await rawClient(b.port)
    raw.send(CONNECT({ clientId: 'k2', clean: false }))
    await raw.next('connack')
    raw.send({ cmd: 'pubrel', messageId: 3 })
    await waitFor(() => releases.length === 1, 'the PUBREL releases the id')
    releases[0]!.done()
    expect(await raw.next('pubcomp')).toMatchObject({ messageId: 3 })
    expect(releases[0]!.key).toBe('k2:3')
    raw.send(PUBLISH_Q2(4))
    expect(await raw.next('pubrec')).toMatchObject({ messageId: 4 })
    expect(accepted).toEqual([])
    raw.send(PUBLISH_Q2(3))
    expect(await raw.next('pubrec')).toMatchObject({ messageId: 3 })
    expect(accepted).toEqual([3])
  })

  it('[MQTT-3.1.2-6] a clean session clears the client ids: its PUBLISH is new even marked as a resend', async () => {
    const { b, accepted, calls } = await withIds([['k3', 1]])
    const raw = await rawClient(b.port)
    raw.send(CONNECT({ clientId: 'k3', clean: true }))
    await raw.next('connack')
    expect(calls.cleared).toContain('k3')
    raw.send(PUBLISH_Q2(1, true))
    expect(await raw.next('pubrec')).toMatchObject({ messageId: 1 })
    expect(accepted).toEqual([1])
    expect(calls.resent).toBe(0)
  })

  it('a resend on a new connection while the first send still waits for its commit gets no PUBREC before that commit', async () => {
    const { b, accepted, hold, commit, syncs } = await withIds([])
    hold(true)
    const first = await rawClient(b.port)
    first.send(CONNECT({ clientId: 'k4', clean: false }))
    await first.next('connack')
    first.send(PUBLISH_Q2(6))
    await waitFor(() => accepted.length === 1, 'the first send is accepted (its commit pending)')
    // the sensor reconnects (taking the session over) and resends
    const again = await rawClient(b.port)
    again.send(CONNECT({ clientId: 'k4', clean: false }))
    await again.next('connack')
    again.send(PUBLISH_Q2(6, true))
    await waitFor(() => syncs.length === 1, 'the resend waits for the commit')
    again.send({ cmd: 'pingreq' })
    expect(await again.next()).toMatchObject({ cmd: 'pingresp' })
    commit()
    expect(await again.next('pubrec')).toMatchObject({ messageId: 6 })
    // answered from the session: accepted once
    expect(accepted).toEqual([6])
  })
})
