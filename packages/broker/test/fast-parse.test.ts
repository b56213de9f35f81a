import { createRequire } from 'node:module'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type PacketClass, parseChunk, type TopicCache, topicOf } from '../src/fast-parse.js'

// the mqtt-packet aedes loads, as the broker does
const aedesRequire = createRequire(createRequire(import.meta.url).resolve('aedes'))
const mqttPacket = aedesRequire('mqtt-packet') as {
  parser(): Parser
  generate(p: object): Buffer
}
const Packet = createRequire(aedesRequire.resolve('mqtt-packet'))('./packet.js') as PacketClass

interface Parser {
  parse(b: Buffer): unknown
  on(e: string, f: (x: unknown) => void): void
}

/** every 'packet' and 'error' a parser emits, with field order and payload bytes */
function record(p: Parser): string[] {
  const out: string[] = []
  p.on('packet', (pk) =>
    out.push(
      JSON.stringify(
        Object.entries(pk as object).map(([k, v]) => [
          k,
          Buffer.isBuffer(v) ? `hex:${v.toString('hex')}` : v,
        ]),
      ),
    ),
  )
  p.on('error', (e) => out.push(`error: ${(e as Error).message}`))
  return out
}

const publish = fc.record({
  cmd: fc.constant('publish'),
  qos: fc.constantFrom(0, 1, 2),
  retain: fc.boolean(),
  dup: fc.boolean(),
  topic: fc.oneof(
    fc.string({ minLength: 1, maxLength: 40 }),
    // repeated topics, two of one length, and one of the same length in UTF-16 units but not in bytes: the
    // connection's topic cache (topicOf) must hand on the right one
    fc.constantFrom('sensors/a/temperature', 'sensors/b/temperature', 'é/ü/☃', 'abcdefg', 'é/ü/☃x'),
  ),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.integer({ min: 16_000, max: 20_000 }).map((n) => Buffer.alloc(n, 7)),
  ),
  messageId: fc.integer({ min: 1, max: 65535 }),
})
const other = fc.constantFrom<object>(
  { cmd: 'pingreq' },
  { cmd: 'puback', messageId: 9 },
  { cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/#', qos: 1 }] },
)
// bytes the parser must refuse: a PUBLISH with both QoS bits, a PUBLISH too short for its topic length,
// a remaining length that never ends, reserved flags on PUBREL
const bad = fc.constantFrom(
  Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61]),
  Buffer.from([0x30, 0x01, 0x00]),
  Buffer.from([0x30, 0x03, 0x00, 0x09, 0x61]),
  Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
  Buffer.from([0x60, 0x02, 0x00, 0x01]),
  Buffer.from([0x30, 0x02, 0x00, 0x00]),
)

const wire = fc
  .array(fc.oneof({ weight: 6, arbitrary: publish }, other), { minLength: 1, maxLength: 12 })
  .chain((ps) =>
    fc.tuple(
      fc.constant(Buffer.concat(ps.map((p) => mqttPacket.generate(p)))),
      fc.option(bad, { nil: undefined }),
      fc.array(fc.nat(), { maxLength: 6 }),
    ),
  )

/** cut `b` at the given points (modulo its length) */
function chunks(b: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % b.length))].filter((c) => c > 0).sort((x, y) => x - y)
  const out: Buffer[] = []
  let from = 0
  for (const c of [...at, b.length]) {
    out.push(Buffer.from(b.subarray(from, c)))
    from = c
  }
  return out
}

describe('parseChunk: whole PUBLISH packets parsed directly, the same packets as mqtt-packet', () => {
  it('gives the same packets and errors, in order and field order, as the parser, however the bytes are cut', () => {
    fc.assert(
      fc.property(wire, ([good, tail, cuts]) => {
        const bytes = tail ? Buffer.concat([good, tail]) : good
        const ref = mqttPacket.parser()
        const want = record(ref)
        for (const c of chunks(bytes, cuts)) ref.parse(c)
        const ours = mqttPacket.parser()
        const got = record(ours)
        for (const c of chunks(bytes, cuts)) parseChunk(ours as never, c, Packet)
        expect(got).toEqual(want)
        // the same with one topic cache for the connection
        const cached = mqttPacket.parser()
        const withCache = record(cached)
        const cache: TopicCache = { topic: undefined }
        for (const c of chunks(bytes, cuts))
          parseChunk(cached as never, c, Packet, undefined, undefined, cache)
        expect(withCache).toEqual(want)
      }),
      { numRuns: 400 },
    )
  })

  it('parses one PUBLISH per chunk itself: the parser is not called', () => {
    const p = mqttPacket.parser()
    const got = record(p)
    let calls = 0
    const parse = p.parse.bind(p)
    p.parse = (b) => {
      calls++
      return parse(b)
    }
    for (let i = 1; i <= 3; i++)
      parseChunk(
        p as never,
        mqttPacket.generate({
          cmd: 'publish',
          qos: 1,
          messageId: i,
          topic: 's/t',
          payload: Buffer.from(`${i}`),
        }),
        Packet,
      )
    expect(calls).toBe(0)
    expect(got).toHaveLength(3)
    // anything else is the parser's
    parseChunk(p as never, mqttPacket.generate({ cmd: 'pingreq' }), Packet)
    expect(calls).toBe(1)
  })

  it("a retained message's payload is its own memory, not a view of the read chunk", () => {
    const p = mqttPacket.parser()
    const seen: Array<{ payload: Buffer }> = []
    p.on('packet', (pk) => seen.push(pk as { payload: Buffer }))
    const chunk = Buffer.concat([
      mqttPacket.generate({ cmd: 'publish', retain: true, topic: 'r', payload: Buffer.from('kept') }),
      mqttPacket.generate({ cmd: 'publish', topic: 'n', payload: Buffer.from('view') }),
    ])
    parseChunk(p as never, chunk, Packet)
    chunk.fill(0)
    expect(seen.map((s) => s.payload.toString())).toEqual(['kept', '\0\0\0\0'])
  })

  it('a topic sent again is not decoded again; another one, or one not all ASCII, is', () => {
    const cache: TopicCache = { topic: undefined }
    let decoded = 0
    const topic = (t: string) => {
      const b = Buffer.from(t)
      const decode = b.toString.bind(b)
      b.toString = ((...a: Parameters<Buffer['toString']>) => {
        decoded++
        return decode(...a)
      }) as Buffer['toString']
      return topicOf(b, 0, b.length, cache)
    }
    expect(topic('s/1/t')).toBe('s/1/t')
    expect(topic('s/1/t')).toBe('s/1/t')
    expect(decoded).toBe(1)
    // same length, other bytes
    expect(topic('s/2/t')).toBe('s/2/t')
    expect(decoded).toBe(2)
    expect(cache.topic).toBe('s/2/t')
    // not ASCII: decoded each time and not kept
    expect(topic('s/é')).toBe('s/é')
    expect(topic('s/é')).toBe('s/é')
    expect(decoded).toBe(4)
    expect(cache.topic).toBeUndefined()
    // bytes that are not UTF-8 decode to U+FFFD, one unit per byte: not kept either
    const bad = Buffer.from([0x73, 0x2f, 0xff])
    expect(topicOf(bad, 0, 3, cache)).toBe('s/\uFFFD')
    expect(cache.topic).toBeUndefined()
    expect(topicOf(Buffer.from([0x73, 0x2f, 0xfd]), 0, 3, cache)).toBe('s/\uFFFD')
    // why only ASCII: 'é' is one UTF-16 unit of code 0xE9, and the one byte 0xE9 is not UTF-8
    expect(topicOf(Buffer.from('é'), 0, 2, cache)).toBe('é')
    expect(topicOf(Buffer.from([0xe9]), 0, 1, cache)).toBe('\uFFFD')
  })
})
