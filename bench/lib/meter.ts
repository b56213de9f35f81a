/**
 * A counting TCP proxy that reads the MQTT packets it carries: every byte each way, and per kind of packet
 * (a PUBLISH by its topic's last level, e.g. `up/summary`, `up/heartbeat`, `down/ack`; other packets by type,
 * e.g. `PUBACK`, `PINGREQ`). The bytes counted are the TCP payload as it crosses the socket (no IP/TCP
 * headers). Works for MQTT 3.1.1 and 5 (the topic is the first field of both PUBLISH variable headers).
 * Lifecycle: start → read counts (snapshot and diff) → close.
 */
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'

const TYPES = [
  '',
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'PINGREQ',
  'PINGRESP',
  'DISCONNECT',
  'AUTH',
]

/** bytes and packets per kind, one direction */
export type Counts = Record<string, { bytes: number; packets: number }>

export interface Meter {
  readonly port: number
  /** copies of the counts so far: up = client → server, down = server → client */
  snapshot(): { up: Counts; down: Counts }
  close(): Promise<void>
}

/** the name of a PUBLISH by its topic: `fogline/v1/n1/up/summary` → `up/summary`, `x/sensors/s1/t` → `sensors` */
function publishKind(topic: string): string {
  const p = topic.split('/')
  if (p[0] === 'fogline') return p.slice(-2).join('/')
  return p.includes('sensors') ? 'sensors' : 'publish'
}

/** Count the packets of one direction of one connection as chunks arrive. */
function counter(into: Counts): (chunk: Buffer) => void {
  let rest: Buffer = Buffer.alloc(0)
  return (chunk) => {
    const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk
    let i = 0
    for (;;) {
      // [MQTT-2.2.3] remaining length: 1 to 4 bytes after the first
      let len = 0
      let mul = 1
      let j = i + 1
      let b = 128
      while (b & 128 && j < buf.length) {
        b = buf[j++]!
        len += (b & 127) * mul
        mul *= 128
      }
      if (b & 128 || j + len > buf.length || i >= buf.length) break
      const type = buf[i]! >> 4
      let kind = TYPES[type] ?? 'other'
      if (type === 3) kind = publishKind(buf.toString('utf8', j + 2, j + 2 + buf.readUInt16BE(j)))
      const c = (into[kind] ??= { bytes: 0, packets: 0 })
      c.bytes += j + len - i
      c.packets++
      i = j + len
    }
    rest = i < buf.length ? Buffer.from(buf.subarray(i)) : Buffer.alloc(0)
  }
}

const copy = (c: Counts): Counts => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, { ...v }]))

/** Listen on a free port of 127.0.0.1, forward every connection to upstream, count what crosses. */
export async function startMeter(upstreamPort: number, upstreamHost = '127.0.0.1'): Promise<Meter> {
  const up: Counts = {}
  const down: Counts = {}
  const socks = new Set<Socket>()
  const server = createServer({ noDelay: true }, (client) => {
    const server = connect({ port: upstreamPort, host: upstreamHost, noDelay: true })
    socks.add(client).add(server)
    const countUp = counter(up)
    const countDown = counter(down)
    client.on('data', (d: Buffer) => {
      countUp(d)
      if (!server.write(d)) client.pause()
    })
    server.on('data', (d: Buffer) => {
      countDown(d)
      if (!client.write(d)) server.pause()
    })
    client.on('drain', () => server.resume())
    server.on('drain', () => client.resume())
    const end = () => {
      client.destroy()
      server.destroy()
      socks.delete(client)
      socks.delete(server)
    }
    client.on('close', end).on('error', end)
    server.on('close', end).on('error', end)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return {
    port: (server.address() as AddressInfo).port,
    snapshot: () => ({ up: copy(up), down: copy(down) }),
    async close() {
      for (const s of socks) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

/** b − a per kind */
export function diff(b: Counts, a: Counts): Counts {
  const out: Counts = {}
  for (const [k, v] of Object.entries(b)) {
    const o = a[k] ?? { bytes: 0, packets: 0 }
    out[k] = { bytes: v.bytes - o.bytes, packets: v.packets - o.packets }
  }
  return out
}
export const totalBytes = (c: Counts) => Object.values(c).reduce((s, v) => s + v.bytes, 0)
