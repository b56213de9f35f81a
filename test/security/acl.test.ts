import { hashPassword, parseAcl, parsePasswordFile } from '@fogline/broker'
import { fakeClock, makeTestCa, waitFor } from '@fogline/testkit'
import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { broker, captureLog, mtlsListener, tryConnect } from './helpers.js'
import { CONNECT, rawClient } from './raw.js'

const ACL = `
# anonymous clients: nothing
user admin
topic read sensors/#
topic deny sensors/secret/#
user dev1
topic read cmd/#
pattern write sensors/%u/#
pattern read clients/%c/#
`

async function connected(url: string, opts: Parameters<typeof tryConnect>[1]): Promise<MqttClient> {
  const r = await tryConnect(url, opts)
  if (!r.client) throw new Error(`connect refused: ${r.code}`)
  return r.client
}

/** Must show 1: ACL denials on publish and subscribe while the client's allowed topics keep flowing. */
describe('topic ACLs (Mosquitto acl_file semantics, %u and %c)', () => {
  it('a denied publish is dropped, counted and logged once per client per minute; allowed ones keep flowing', async () => {
    const clock = fakeClock()
    const log = captureLog()
    const pw = await hashPassword('pw')
    const passwords = parsePasswordFile(`admin:${pw}\ndev1:${pw}\n`)
    const handed: string[] = []
    const b = await broker({ passwords, acl: parseAcl(ACL), clock, log, onMessage: (t) => handed.push(t) })
    const admin = await connected(b.url, { clientId: 'admin-1', username: 'admin', password: 'pw' })
    const seen: string[] = []
    admin.on('message', (t) => seen.push(t))
    expect((await admin.subscribeAsync('sensors/#'))[0]?.qos).toBe(0)
    const dev = await connected(b.url, { clientId: 'dev1-a', username: 'dev1', password: 'pw' })
    for (let i = 0; i < 5; i++) {
      await dev.publishAsync('sensors/dev1/t', String(i), { qos: 1 })
      // another device's topic: PUBACKed [MQTT-3.3.5-2], dropped, the connection stays
      await dev.publishAsync('sensors/dev2/t', 'spoof', { qos: 1 })
    }
    await waitFor(() => seen.length === 5, 'five allowed readings forwarded')
    expect(seen.every((t) => t === 'sensors/dev1/t')).toBe(true)
    expect(handed).toEqual(Array(5).fill('sensors/dev1/t'))
    expect(dev.connected).toBe(true)
    expect(b.counters().denied.publish).toBe(5)
    const denials = () => log.lines.filter((l) => l.topic === 'sensors/dev2/t')
    expect(denials()).toHaveLength(1)
    expect(denials()[0]).toMatchObject({ code: 'FOG_NOT_AUTHORIZED', clientId: 'dev1-a', username: 'dev1' })
    clock.advance(60_000)
    await dev.publishAsync('sensors/dev2/t', 'spoof', { qos: 0 })
    await dev.publishAsync('sensors/dev1/t', 'after', { qos: 1 })
    await waitFor(() => seen.length === 6, 'still flowing after a minute')
    expect(denials()).toHaveLength(2)
    expect(b.counters().denied.publish).toBe(6)
  })

  it('a denied subscription gets SUBACK 0x80 [MQTT-3.9.3-*], others in the same SUBSCRIBE are granted; deny rules cut wider grants', async () => {
    const log = captureLog()
    const pw = await hashPassword('pw')
    const b = await broker({
      passwords: parsePasswordFile(`admin:${pw}\ndev1:${pw}\n`),
      acl: parseAcl(ACL),
      log,
    })
    // raw packets: mqtt.js turns any 0x80 into an error and hides the per-filter codes
    const raw = await rawClient(b.port)
    raw.send(CONNECT({ clientId: 'c-7', username: 'dev1', password: Buffer.from('pw') }))
    expect(await raw.next('connack')).toMatchObject({ returnCode: 0 })
    const filters = ['sensors/#', 'cmd/dev1', 'clients/c-7/x', 'clients/c-8/x', 'cmd/#']
    raw.send({ cmd: 'subscribe', messageId: 7, subscriptions: filters.map((topic) => ({ topic, qos: 1 })) })
    expect(await raw.next('suback')).toMatchObject({ messageId: 7, granted: [128, 1, 1, 128, 1] })
    expect(raw.isClosed()).toBe(false)
    const dev = await connected(b.url, { clientId: 'dev1-a', username: 'dev1', password: 'pw' })
    expect(b.counters().denied.subscribe).toBe(2)
    expect(log.lines.filter((l) => l.msg.includes('SUBACK 0x80'))).toHaveLength(1) // once per client per minute
    // admin reads sensors/# but not sensors/secret/#: filtered per message
    const admin = await connected(b.url, { clientId: 'admin-1', username: 'admin', password: 'pw' })
    const seen: string[] = []
    admin.on('message', (t) => seen.push(t))
    await expect(admin.subscribeAsync('sensors/secret/#')).rejects.toMatchObject({
      packet: { granted: [128] },
    })
    await admin.subscribeAsync('sensors/#')
    await dev.publishAsync('sensors/dev1/secret', 'x', { qos: 1 })
    const pub = await connected(b.url, { clientId: 'dev1-b', username: 'dev1', password: 'pw' })
    await pub.publishAsync('sensors/dev1/t', '1', { qos: 1 })
    await waitFor(() => seen.length >= 2, 'two forwarded')
    expect(seen).toEqual(['sensors/dev1/secret', 'sensors/dev1/t'])
  })

  it("with requireCertificate the certificate's CN is the user name that %u patterns use", async () => {
    await using ca = makeTestCa('fog-ca')
    const server = ca.issue('server', { cn: 'gw', san: ['IP:127.0.0.1'] })
    const dev = ca.issue('dev7', { cn: 'dev7' })
    const handed: string[] = []
    const b = await broker({
      listeners: [mtlsListener(server, ca, 'pem')],
      acl: parseAcl('pattern write sensors/%u/#\n'),
      onMessage: (t) => handed.push(t),
    })
    const c = await connected(b.url, { ca: ca.cert, cert: dev.cert, key: dev.key, username: 'dev1' })
    await c.publishAsync('sensors/dev1/t', '1', { qos: 1 })
    await c.publishAsync('sensors/dev7/t', '2', { qos: 1 })
    await waitFor(() => handed.length === 1, 'one accepted')
    expect(handed).toEqual(['sensors/dev7/t'])
    expect(b.counters().denied.publish).toBe(1)
  })

  it('a QoS 1 publish the ACL drops never reaches the durable ingest (acceptDurable)', async () => {
    const accepted: string[] = []
    const b = await broker({
      acl: parseAcl('topic write ok/#\n'),
      acceptDurable: (topic, _p, _c, done) => {
        accepted.push(topic)
        done()
      },
    })
    const c = await connected(b.url, { clientId: 'anon' })
    await c.publishAsync('denied/x', '1', { qos: 1 })
    await c.publishAsync('ok/x', '1', { qos: 1 })
    expect(accepted).toEqual(['ok/x'])
    expect(b.counters().denied.publish).toBe(1)
  })
})
