/**
 * The real-sensor load (issue 12): N MQTT 3.1.1 connections with TCP_NODELAY, each publishing one reading
 * every `1000 / perSec` ms, one PUBLISH per socket write, QoS 0 or 1, JSON `{"value":…,"ts":…}` on
 * `<prefix>/sensors/s<id>/temperature` (a random walk: about half the steps pass a 0.05 deadband).
 * Raw sockets with pre-encoded packets, so the generator costs little CPU and no client library shapes the
 * load. QoS 1: a packet id per connection, PUBACKs counted.
 * perSec 0: saturated, each connection as fast as the broker takes it (QoS 1: 8 unacknowledged at most).
 * Run as a child: sensors.ts host port prefix conns perSec qos seconds [firstId]. Prints `connected`, then every 250 ms
 * `sent <n> <pubacks> <epoch ms>`.
 */
import { createConnection, type Socket } from 'node:net'

/** [MQTT-2.2.3] remaining length as a variable byte integer */
export function varint(x: number): number[] {
  const out: number[] = []
  do {
    const b = x % 128
    x = Math.floor(x / 128)
    out.push(x > 0 ? b | 128 : b)
  } while (x > 0)
  return out
}
export const str16 = (s: string) => {
  const b = Buffer.from(s)
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b])
}
/** A control packet: fixed header byte, remaining length, body. */
export const packet = (first: number, ...body: Buffer[]) => {
  const b = Buffer.concat(body)
  return Buffer.concat([Buffer.from([first, ...varint(b.length)]), b])
}
/** CONNECT: "MQTT", level 4, clean session, keep alive 0 (off) [MQTT-3.1.2-10] */
export const connectPacket = (clientId: string) =>
  packet(0x10, str16('MQTT'), Buffer.from([4, 0x02, 0, 0]), str16(clientId))

interface Conn {
  sock: Socket
  topic: Buffer
  value: number
  id: number
  /** saturated: PUBLISHes not yet acknowledged (QoS 1) or the socket is full (QoS 0) */
  inflight: number
  blocked: boolean
}
/** saturated QoS 1: unacknowledged PUBLISHes per connection, like a client's in-flight window */
const WINDOW = 8

/** A raw MQTT connection (TCP_NODELAY) that has sent CONNECT and got its CONNACK; later errors are ignored
 * (a load generator outlives a killed broker). */
export async function openRaw(host: string, port: number, clientId: string): Promise<Socket> {
  const sock = createConnection({ host, port, noDelay: true })
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject)
    sock.once('connect', () => {
      sock.write(connectPacket(clientId))
      // CONNACK is the first 4 bytes back
      sock.once('data', () => resolve())
    })
  })
  sock.on('error', () => {})
  return sock
}

export async function runSensors(
  host: string,
  port: number,
  prefix: string,
  conns: number,
  perSec: number,
  qos: 0 | 1,
  seconds: number,
  /** the first sensor's number (s0000 by default): sensors of another run can be told apart */
  firstId = 0,
): Promise<void> {
  let seed = 42
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  const list: Conn[] = []
  let acks = 0
  // connect in batches: 1,000 at once would overflow the listen backlog of some brokers
  for (let i = 0; i < conns; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, conns - i) }, (_, k) =>
        openRaw(host, port, `${prefix}-s${i + k}-${process.pid}`),
      ),
    )
    batch.forEach((sock, k) => {
      const id = firstId + i + k
      const conn: Conn = {
        sock,
        topic: str16(`${prefix}/sensors/s${String(id).padStart(4, '0')}/temperature`),
        value: 20 + rnd() * 10,
        id: 0,
        inflight: 0,
        blocked: false,
      }
      if (qos === 1)
        sock.on('data', (d: Buffer) => {
          // PUBACKs are 4 bytes each: 0x40 0x02 id id
          for (let j = 0; j + 3 < d.length; j += 4)
            if (d[j] === 0x40) {
              acks++
              conn.inflight--
            }
          if (perSec === 0) pump(conn)
        })
      sock.on('drain', () => {
        conn.blocked = false
        if (perSec === 0) pump(conn)
      })
      list.push(conn)
    })
  }
  console.log('connected')
  let sent = 0
  // saturated (perSec 0): every connection sends as fast as the broker takes it — QoS 1 up to its window
  // of unacknowledged PUBLISHes, QoS 0 until the socket buffer is full
  const pump = (c: Conn) => {
    while (!c.blocked && (qos === 0 || c.inflight < WINDOW)) {
      c.inflight++
      if (!send(c)) c.blocked = true
      if (qos === 0 && c.inflight >= 64) {
        c.inflight = 0
        setImmediate(() => pump(c))
        return
      }
    }
  }
  // the pacing timer's period: each tick sends the connections due in it (FOGLINE_SENSORS_TICK ms, 5 by
  // default; 1 spreads the arrivals more evenly, as independent sensors' would be)
  const TICK = Number(process.env['FOGLINE_SENSORS_TICK'] ?? '5')
  const cycle = Math.round(1000 / Math.max(perSec, 1) / TICK) // ticks per period: each connection sends in one of them
  const t0 = performance.now()
  let ticks = 0
  setInterval(() => console.log(`sent ${sent} ${acks} ${Date.now()}`), 250)
  setTimeout(() => process.exit(0), seconds * 1000)
  const send = (c: Conn) => {
    c.value += (rnd() - 0.5) * 0.2
    const body = Buffer.from(`{"value":${Math.round(c.value * 1000) / 1000},"ts":${Date.now()}}`)
    const len = c.topic.length + (qos === 1 ? 2 : 0) + body.length
    const v = varint(len)
    // a fresh buffer per packet: a queued write keeps a reference to it
    const b = Buffer.allocUnsafe(1 + v.length + len)
    let o = 0
    b[o++] = qos === 1 ? 0x32 : 0x30
    for (const x of v) b[o++] = x
    o += c.topic.copy(b, o)
    if (qos === 1) {
      c.id = (c.id % 65535) + 1 // [MQTT-2.3.1-1] non-zero packet identifier
      b[o++] = c.id >> 8
      b[o++] = c.id & 255
    }
    body.copy(b, o)
    sent++
    return c.sock.write(b)
  }
  if (perSec === 0) {
    for (const c of list) pump(c)
    return
  }
  setInterval(() => {
    const due = Math.floor((performance.now() - t0) / TICK)
    // catch up on late ticks, so the offered rate holds even when the timer lags
    for (; ticks < due; ticks++) {
      const slot = ticks % cycle
      for (let i = slot; i < list.length; i += cycle) send(list[i]!)
    }
  }, TICK)
}

if (process.argv[1]?.endsWith('sensors.ts')) {
  const [host, port, prefix, conns, perSec, qos, seconds, firstId] = process.argv.slice(2)
  await runSensors(
    host!,
    Number(port),
    prefix!,
    Number(conns),
    Number(perSec),
    Number(qos) === 1 ? 1 : 0,
    Number(seconds),
    Number(firstId ?? '0'),
  )
}
