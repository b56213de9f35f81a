import { createRequire } from 'node:module'
import { connect, createServer, type Socket } from 'node:net'
import { waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { directWriteStats, directWriteSupported, writeDirect, writePuback } from '../src/direct-write.js'
import { startBroker } from '../src/index.js'

const aedesRequire = createRequire(createRequire(import.meta.url).resolve('aedes'))
const { generate } = aedesRequire('mqtt-packet') as { generate(p: object): Buffer }

/** a connected pair of plain TCP sockets on port 0: [server side, client side] */
async function pair(): Promise<[Socket, Socket]> {
  const srv = createServer({ noDelay: true })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const accepted = new Promise<Socket>((r) => srv.once('connection', r))
  const c = connect({ port: (srv.address() as { port: number }).port, host: '127.0.0.1', noDelay: true })
  const s = await accepted
  await new Promise((r) => (c.connecting ? c.once('connect', r) : r(null)))
  srv.close()
  onTestFinished(() => {
    s.destroy()
    c.destroy()
  })
  return [s, c]
}

/** a buffer of `n` bytes numbered from `from` (so that any reordering or loss shows) */
const numbered = (from: number, n: number) => {
  const b = Buffer.alloc(n * 4)
  for (let i = 0; i < n; i++) b.writeUInt32BE(from + i, i * 4)
  return b
}

/** read everything the peer gets from now on */
function collect(c: Socket): { got: Buffer[]; n: number } {
  const peer = { got: [] as Buffer[], n: 0 }
  c.on('data', (d: Buffer) => {
    peer.got.push(d)
    peer.n += d.length
  })
  c.resume()
  return peer
}

describe('direct write: small writes through the socket handle (broker.fastPath)', () => {
  it('is supported on this Node: a Node that drops the binding must fail here, not fall back unseen', () => {
    expect(directWriteSupported).toBe(true)
  })

  for (const fastPath of [true, false])
    it(`every QoS 1 PUBLISH gets its PUBACK, in order, written directly only with fastPath (fastPath ${fastPath})`, async () => {
      const b = await startBroker({ port: 0, fastPath })
      onTestFinished(() => b.close())
      const s = connect({ port: b.port, host: '127.0.0.1', noDelay: true })
      onTestFinished(() => void s.destroy())
      let got = Buffer.alloc(0)
      s.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d])
      })
      await new Promise((r) => s.once('connect', r))
      s.write(
        generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId: 'dw',
          clean: true,
          keepalive: 30,
        }),
      )
      await waitFor(() => got.length >= 4, 'CONNACK')
      const before = directWriteStats.direct
      const ids = Array.from({ length: 200 }, (_, i) => (i * 331 + 1) % 65535 || 1)
      // one PUBLISH per write, as sensors send
      for (const id of ids)
        s.write(generate({ cmd: 'publish', topic: 's/a/t', payload: '1', qos: 1, messageId: id }))
      await waitFor(() => got.length >= 4 + 4 * ids.length, 'every PUBACK')
      const acks = got.subarray(4)
      expect(acks.length).toBe(4 * ids.length)
      for (let i = 0; i < ids.length; i++)
        expect([...acks.subarray(i * 4, i * 4 + 4)]).toEqual([0x40, 2, ids[i]! >> 8, ids[i]! & 255])
      expect(directWriteStats.direct - before).toBe(fastPath ? ids.length : 0)
    })

  it('a write the kernel cannot take whole queues in order; writes behind it go through the stream, then direct again', async () => {
    const [s, c] = await pair()
    // the peer reads nothing yet: its receive buffer and our send buffer fill up
    c.pause()
    const sent: Buffer[] = []
    let next = 0
    const chunk = () => {
      const b = numbered(next, 16 * 1024)
      next += 16 * 1024
      sent.push(b)
      return b
    }
    const q0 = directWriteStats.queued
    for (let i = 0; i < 2000 && directWriteStats.queued === q0; i++)
      expect(writeDirect(s, chunk())).toBe(true)
    expect(directWriteStats.queued).toBe(q0 + 1)
    // libuv holds the rest of that write: the next ones must wait behind it, through the stream
    const s0 = directWriteStats.stream
    const d0 = directWriteStats.direct
    writeDirect(s, chunk())
    writePuback(s, 0x0102)
    sent.push(Buffer.from([0x40, 2, 1, 2]))
    writeDirect(s, chunk())
    expect(directWriteStats.stream - s0).toBe(3)
    expect(directWriteStats.direct).toBe(d0)
    const total = sent.reduce((n, b) => n + b.length, 0)
    const peer = collect(c)
    await waitFor(() => peer.n === total, 'every byte at the peer')
    // once everything is out, a write goes direct again
    await waitFor(() => s.writableLength === 0, 'the stream drained')
    const d1 = directWriteStats.direct
    const last = numbered(next, 2)
    sent.push(last)
    expect(writeDirect(s, last)).toBe(true)
    expect(directWriteStats.direct).toBe(d1 + 1)
    await waitFor(() => peer.n === total + 8, 'the last write at the peer')
    expect(Buffer.concat(peer.got).equals(Buffer.concat(sent))).toBe(true)
  })

  it('behind data the stream still buffers, a write goes through the stream: nothing overtakes it', async () => {
    const [s, c] = await pair()
    c.pause()
    const sent: Buffer[] = []
    let next = 0
    // fill through the stream until it buffers: one write pending in libuv, the next ones in the Writable
    for (let i = 0; i < 2000 && s.writableLength < 256 * 1024; i++) {
      const b = numbered(next, 16 * 1024)
      next += 16 * 1024
      sent.push(b)
      s.write(b)
    }
    expect(s.writableLength).toBeGreaterThanOrEqual(256 * 1024)
    const s0 = directWriteStats.stream
    writePuback(s, 0x0a0b)
    sent.push(Buffer.from([0x40, 2, 0x0a, 0x0b]))
    expect(directWriteStats.stream).toBe(s0 + 1)
    const total = sent.reduce((n, b) => n + b.length, 0)
    const peer = collect(c)
    await waitFor(() => peer.n === total, 'every byte at the peer')
    expect(Buffer.concat(peer.got).equals(Buffer.concat(sent))).toBe(true)
  })

  it('behind a corked write (mqtt-packet corks each packet it writes until the next tick), a PUBACK waits its turn', async () => {
    const [s, c] = await pair()
    const got: Buffer[] = []
    c.on('data', (d: Buffer) => got.push(d))
    s.cork()
    s.write(Buffer.from('first'))
    const s0 = directWriteStats.stream
    writePuback(s, 0x0102)
    expect(directWriteStats.stream).toBe(s0 + 1)
    process.nextTick(() => s.uncork())
    await waitFor(() => Buffer.concat(got).length === 9, 'both at the peer')
    expect([...Buffer.concat(got)]).toEqual([...Buffer.from('first'), 0x40, 2, 1, 2])
  })

  it('a write to a reset peer is left to the stream, which reports the error and closes the socket', async () => {
    const [s, c] = await pair()
    const errors: string[] = []
    s.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message))
    const closed = new Promise((r) => s.once('close', r))
    c.resetAndDestroy()
    // the RST arrives at once on loopback; keep writing until the kernel reports it
    await waitFor(() => {
      if (!s.destroyed) writePuback(s, 1)
      return s.destroyed
    }, 'the socket destroyed')
    await closed
    expect(errors.length).toBeLessThanOrEqual(1)
    expect(errors.every((e) => ['ECONNRESET', 'EPIPE'].includes(e))).toBe(true)
  })
})
