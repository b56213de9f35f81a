import { createRequire } from 'node:module'
import { connect, type Socket } from 'node:net'
import { waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { directReadSupported } from '../src/direct-read.js'
import { parseAcl, startBroker } from '../src/index.js'

const aedesRequire = createRequire(createRequire(import.meta.url).resolve('aedes'))
const { generate } = aedesRequire('mqtt-packet') as { generate(p: object): Buffer }

async function raw(port: number): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1', noDelay: true })
  await new Promise((r) => s.once('connect', r))
  // read what the broker sends, so its end of the connection is seen
  s.resume()
  onTestFinished(() => {
    s.destroy()
  })
  return s
}

const connectPacket = (id: string) =>
  generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: id,
    clean: true,
    keepalive: 30,
  })
const pub = (topic: string, payload: Buffer | string, qos = 0, messageId = 1) =>
  generate({ cmd: 'publish', topic, payload, qos, messageId })

/** write each piece as its own TCP segment (Nagle off, a tick between) */
async function dribble(s: Socket, pieces: Buffer[]): Promise<void> {
  for (const p of pieces) {
    s.write(p)
    await new Promise((r) => setImmediate(r))
  }
}

describe('direct read: plain TCP clients read into a shared buffer (broker.fastPath)', () => {
  it('is supported on this Node: a Node that drops the fields must fail here, not fall back unseen', () => {
    expect(directReadSupported).toBe(true)
  })

  for (const fastPath of [true, false])
    it(`every packet arrives whole however it is cut: byte by byte, many per write, 200 KiB across reads (fastPath ${fastPath})`, async () => {
      const got: string[] = []
      const b = await startBroker({
        port: 0,
        fastPath,
        onMessage: (t, p) => got.push(`${t}=${p.length}:${p[0]}`),
      })
      onTestFinished(() => b.close())
      const s = await raw(b.port)
      let acks = Buffer.alloc(0)
      s.on('data', (d: Buffer) => {
        acks = Buffer.concat([acks, d])
      })
      const c = connectPacket('cut')
      const p1 = pub('s/a', Buffer.from([1, 2, 3]))
      const p2 = pub('s/b', Buffer.from([4]), 1, 7)
      // CONNECT and the first PUBLISH cut into single bytes
      await dribble(
        s,
        [...Buffer.concat([c, p1])].map((x) => Buffer.from([x])),
      )
      // ten in one write, the last one cut in half
      const ten = Buffer.concat(Array.from({ length: 10 }, (_, i) => pub(`s/m${i}`, Buffer.from([i]))))
      const half = Math.floor(p2.length / 2)
      await dribble(s, [Buffer.concat([ten, p2.subarray(0, half)]), p2.subarray(half)])
      // a payload larger than the 64 KiB read buffer
      await dribble(s, [pub('s/big', Buffer.alloc(200 * 1024, 9))])
      await waitFor(() => got.length === 13, 'got.length === 13')
      expect(got).toEqual([
        's/a=3:1',
        ...Array.from({ length: 10 }, (_, i) => `s/m${i}=1:${i}`),
        's/b=1:4',
        `s/big=${200 * 1024}:9`,
      ])
      // CONNACK then the PUBACK for packet id 7
      await waitFor(() => acks.length >= 8, 'acks.length >= 8')
      expect([...acks.subarray(4, 8)]).toEqual([0x40, 2, 0, 7])
      // the server side reads into the shared buffer only with fastPath on
      const conn = (b.aedes as unknown as { clients: Record<string, { conn: object }> }).clients['cut']!.conn
      const kBuffer = Object.getOwnPropertySymbols(conn).find((k) => k.description === 'kBuffer')!
      expect((conn as Record<symbol, unknown>)[kBuffer] != null).toBe(fastPath)
    })

  for (const fastPath of [true, false])
    it(`after a packet that closes the client, the rest of its read is not delivered (fastPath ${fastPath})`, async () => {
      const got: string[] = []
      const b = await startBroker({ port: 0, fastPath, onMessage: (t) => got.push(t) })
      onTestFinished(() => b.close())
      const s = await raw(b.port)
      s.write(connectPacket('wild'))
      await waitFor(() => b.clients() === 1, 'b.clients() === 1')
      const closed = new Promise((r) => s.once('close', r))
      // [MQTT-3.3.2-2] no wildcard in a PUBLISH topic: aedes closes the client; the packets after it in the
      // same read must go nowhere, as with aedes' own path
      s.write(Buffer.concat([pub('s/ok', '1'), pub('s/#', '2'), pub('s/after', '3', 1, 5)]))
      await closed
      expect(got).toEqual(['s/ok'])
    })

  it('a client closing its side is seen as gone, and a malformed packet closes the connection', async () => {
    const b = await startBroker({ port: 0 })
    onTestFinished(() => b.close())
    const s = await raw(b.port)
    s.write(connectPacket('eof'))
    await waitFor(() => b.clients() === 1, 'b.clients() === 1')
    s.end()
    await waitFor(() => b.clients() === 0, 'b.clients() === 0')
    const bad = await raw(b.port)
    bad.write(connectPacket('bad'))
    await waitFor(() => b.clients() === 1, 'b.clients() === 1')
    const closed = new Promise((r) => bad.once('close', r))
    // QoS 3 PUBLISH: [MQTT-3.3.1-4] the connection must be closed
    bad.write(Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61]))
    await closed
    await waitFor(() => b.clients() === 0, 'b.clients() === 0')
  })
})

describe('authorizePublish remembers the last topic a client passed, per ACL', () => {
  it('a reloaded ACL that denies the topic drops the next publish on it (the remembered pass is not reused)', async () => {
    const got: string[] = []
    const b = await startBroker({
      port: 0,
      users: { s1: 'pw' },
      acl: parseAcl('user s1\ntopic write sensors/#\n'),
      onMessage: (t, p) => got.push(`${t}=${p}`),
    })
    onTestFinished(() => b.close())
    const s = await raw(b.port)
    s.write(
      generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: 'c1',
        clean: true,
        keepalive: 30,
        username: 's1',
        password: Buffer.from('pw'),
      }),
    )
    await waitFor(() => b.clients() === 1, 'b.clients() === 1')
    s.write(pub('sensors/a', '1'))
    s.write(pub('sensors/a', '2'))
    await waitFor(() => got.length === 2, 'got.length === 2')
    b.reload({ acl: parseAcl('user s1\ntopic write other/#\n') })
    s.write(pub('sensors/a', '3'))
    s.write(pub('other/b', '4'))
    await waitFor(() => got.length === 3, 'got.length === 3')
    expect(got).toEqual(['sensors/a=1', 'sensors/a=2', 'other/b=4'])
    expect(b.counters().denied.publish).toBe(1)
  })
})
