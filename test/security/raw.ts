import { connect, type Socket } from 'node:net'
import { waitFor } from '@fogline/testkit'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { onTestFinished } from 'vitest'

/** A raw MQTT 3.1.1 connection: send any packet (valid or not), read what the broker answers, see it close. */
export interface RawClient {
  send(p: Record<string, unknown>): void
  write(buf: Buffer): void
  /** the next packet of this type (or of any type), or null when the socket closed first */
  next(cmd?: string, ms?: number): Promise<Packet | null>
  closed: Promise<void>
  isClosed(): boolean
  socket: Socket
}

export async function rawClient(port: number, host = '127.0.0.1'): Promise<RawClient> {
  const socket = connect(port, host)
  onTestFinished(() => void socket.destroy())
  await new Promise<void>((r, j) => socket.once('connect', r).once('error', j))
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const queue: Packet[] = []
  let isClosed = false
  parser.on('packet', (p) => queue.push(p))
  parser.on('error', () => socket.destroy())
  socket.on('data', (d) => parser.parse(d))
  socket.on('error', () => {})
  const closed = new Promise<void>((r) =>
    socket.once('close', () => {
      isClosed = true
      r()
    }),
  )
  return {
    socket,
    closed,
    isClosed: () => isClosed,
    send: (p) => void socket.write(mqttPacket.generate(p as unknown as Packet, { protocolVersion: 4 })),
    write: (b) => void socket.write(b),
    async next(cmd, ms = 5000) {
      // the packet, or { p: null } once the socket closed first: testkit's condition wait, a 5 ms step
      const got = await waitFor(
        () => {
          const i = queue.findIndex((p) => !cmd || p.cmd === cmd)
          if (i >= 0) return { p: queue.splice(i, 1)[0]! as Packet | null }
          return isClosed ? { p: null } : undefined
        },
        `a ${cmd ?? 'packet'} from the broker`,
        ms,
        5,
      )
      return got.p
    },
  }
}

export const CONNECT = (o: Record<string, unknown> = {}) => ({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: 4,
  clean: true,
  clientId: `raw-${Math.random().toString(36).slice(2, 8)}`,
  keepalive: 60,
  ...o,
})

/** CONNECT bytes built by hand, for what mqtt-packet refuses to generate (e.g. an empty id without clean session). */
export function connectBytes(clientId: string, flags: number, extra: Buffer = Buffer.alloc(0)): Buffer {
  const id = Buffer.from(clientId)
  const body = Buffer.concat([
    Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, flags, 0, 60, id.length >> 8, id.length & 0xff]),
    id,
    extra,
  ])
  return Buffer.concat([Buffer.from([0x10, body.length]), body])
}

/** A QoS 2 PUBLISH of one reading of value 1 (`dup`: marked as a resend). */
export const PUBLISH_Q2 = (messageId: number, dup = false) => ({
  cmd: 'publish',
  topic: 'sensors/q2/t',
  payload: Buffer.from('{"value":1}'),
  qos: 2,
  messageId,
  dup,
})
