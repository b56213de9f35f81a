import { connect } from 'node:net'
import fc from 'fast-check'
import mqttPacket from 'mqtt-packet'

/** Cases per property: FOGLINE_FUZZ=N, else the bounded CI count. */
export function fuzzRuns(ci: number): number {
  const n = Number(process.env.FOGLINE_FUZZ)
  return Number.isInteger(n) && n > 0 ? n : ci
}

const topic = fc.oneof(
  fc.constantFrom('sensors/a/t', 'a', '#', '+/x', 'a/#', '$SYS/x', '', 'fogline/v1/n1/up/summary', 'a//b'),
  fc.string({ maxLength: 40 }),
  fc
    .array(fc.constantFrom('a', '+', '#', '', 'ü', '\u0000', 'x'.repeat(300)), { maxLength: 20 })
    .map((l) => l.join('/')),
)
const payload = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))
const qos = fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>
const id = fc.integer({ min: 1, max: 65535 })

/** Packets mqtt-packet can generate (v3.1.1): the valid, and the valid-looking with odd fields. */
const packet: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({
    cmd: fc.constant('connect'),
    protocolId: fc.constant('MQTT'),
    protocolVersion: fc.constant(4),
    clean: fc.boolean(),
    clientId: fc.oneof(fc.constant(''), fc.string({ maxLength: 30 })),
    keepalive: fc.integer({ min: 0, max: 65535 }),
    username: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    password: fc.option(payload, { nil: undefined }),
    will: fc.option(fc.record({ topic, payload, qos, retain: fc.boolean() }), { nil: undefined }),
  }),
  fc.record({
    cmd: fc.constant('publish'),
    topic,
    payload,
    qos,
    retain: fc.boolean(),
    dup: fc.boolean(),
    messageId: id,
  }),
  fc.record({
    cmd: fc.constant('subscribe'),
    messageId: id,
    subscriptions: fc.array(fc.record({ topic, qos }), { minLength: 1, maxLength: 5 }),
  }),
  fc.record({
    cmd: fc.constant('unsubscribe'),
    messageId: id,
    unsubscriptions: fc.array(topic, { minLength: 1, maxLength: 3 }),
  }),
  fc.record({ cmd: fc.constantFrom('puback', 'pubrec', 'pubrel', 'pubcomp'), messageId: id }),
  fc.record({ cmd: fc.constantFrom('pingreq', 'disconnect', 'pingresp', 'connack', 'suback') }),
)

function encode(p: Record<string, unknown>): Buffer {
  try {
    return mqttPacket.generate(p as never, { protocolVersion: 4 })
  } catch {
    return Buffer.alloc(0) // a field mqtt-packet will not encode: this packet drops out of the sequence
  }
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
)

function mutate(buf: Buffer, ms: Mutation[]): Buffer {
  let b = buf
  for (const m of ms) {
    if (b.length === 0) break
    const at = m.at % b.length
    if (m.kind === 'flip') b[at] = b[at]! ^ (1 << m.bit)
    else if (m.kind === 'set') b[at] = m.byte
    else if (m.kind === 'cut') b = b.subarray(0, at)
    else b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)])
  }
  return b
}

/**
 * One fuzz case: a byte stream for one connection. Mostly a valid CONNECT first (so the later packets
 * reach the handlers past CONNECT), then valid packets, then a few mutations (none in a third of the cases),
 * or plain random bytes.
 */
export const wireCase: fc.Arbitrary<Buffer> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.boolean(),
        fc.array(packet, { minLength: 1, maxLength: 6 }),
        fc.oneof(fc.constant([] as Mutation[]), fc.array(mutation, { minLength: 1, maxLength: 4 })),
      )
      .map(([lead, ps, ms]) => {
        const first = lead
          ? [
              encode({
                cmd: 'connect',
                protocolId: 'MQTT',
                protocolVersion: 4,
                clean: true,
                clientId: '',
                keepalive: 30,
              }),
            ]
          : []
        return mutate(Buffer.concat([...first, ...ps.map(encode)]), ms)
      }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
)

/**
 * Write the bytes on a raw socket, half-close it, and resolve when the broker has closed the connection (it
 * closes on a client's FIN, on a protocol error, or on a refusal). A broker that never closes would fail the
 * run through the test's timeout.
 */
export function sendRaw(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.end(bytes)
    })
    s.on('error', () => {})
    s.on('data', () => {})
    s.once('close', () => resolve())
  })
}
