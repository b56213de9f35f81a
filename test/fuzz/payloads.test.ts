import { createEngine, type EngineOutput } from '@fogline/pipeline'
import {
  decodeAck,
  decodeBatch,
  decodeMessage,
  encodeBatch,
  encodeMessage,
  FoglineError,
  verifyDesired,
} from '@fogline/protocol'
import { fakeClock } from '@fogline/testkit'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fuzzRuns } from './mqtt-packets.js'

const RUNS = fuzzRuns(2000)

/** One pipeline per decoder type, together running every built-in stage. */
const PIPELINES = [
  {
    id: 'json',
    input: ['s/+/+'],
    decoder: { type: 'json', value: '$.value', ts: '$.ts', fields: { unit: '$.unit' } },
    stages: [
      { type: 'validate', min: -1e6, max: 1e6 },
      { type: 'map', scale: 2, offset: 1 },
      { type: 'filter', expr: 'value > -1000' },
      { type: 'deadband', absolute: 0.01, maxSilence: '1m' },
      { type: 'threshold', name: 'high', above: 100, hysteresis: 1, hold: '1s' },
      { type: 'anomaly', model: { kind: 'gaussian', mean: 0, std: 1, k: 3 } },
      {
        type: 'window',
        kind: 'tumbling',
        size: '1s',
        aggregates: ['count', 'min', 'max', 'mean', 'sum', 'p90', 'last'],
      },
    ],
  },
  {
    id: 'msgpack',
    input: ['m/+/+'],
    decoder: { type: 'msgpack', value: '$.value' },
    stages: [
      { type: 'swinging-door', deviation: 0.5 },
      { type: 'downsample', interval: '1s' },
    ],
    output: { stream: 'raw' },
  },
  {
    id: 'text',
    input: ['t/+/+'],
    decoder: { type: 'text' },
    stages: [{ type: 'window', kind: 'hopping', size: '2s', hop: '1s', aggregates: ['count', 'sum'] }],
  },
]

const jsonish = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .record({
      value: fc.oneof(fc.double(), fc.string(), fc.constant(null)),
      ts: fc.oneof(fc.integer(), fc.string(), fc.double()),
      unit: fc.string(),
    })
    .map((v) => JSON.stringify(v)),
  fc.double().map(String),
  fc.string(),
)
const payload: fc.Arbitrary<Buffer> = fc.oneof(
  jsonish.map((s) => Buffer.from(s)),
  fc.anything().map((v) => {
    try {
      return encodeMessage(v)
    } catch {
      return Buffer.alloc(0)
    }
  }),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  // a valid reading with a few bytes changed
  fc
    .tuple(
      fc.double({ noNaN: true }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
    )
    .map(([v, ms]) => {
      const b = Buffer.from(JSON.stringify({ value: v, ts: 1_700_000_000_000 }))
      for (const [at, byte] of ms) b[at % b.length] = byte
      return b
    }),
)
const topic = fc.oneof(
  fc
    .tuple(fc.constantFrom('s', 'm', 't'), fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }))
    .map((p) => p.join('/')),
  fc.string({ maxLength: 30 }),
)

describe('fuzzing decoders and stages with random and mutated payloads', () => {
  it(`the engine: ${RUNS} messages through every decoder and stage; bad ones become dead letters, good ones keep flowing`, {
    timeout: Math.max(60_000, RUNS * 5),
  }, () => {
    const clock = fakeClock()
    const outputs: EngineOutput[] = []
    let dead = 0
    const engine = createEngine(PIPELINES, {
      clock,
      emit: (o) => outputs.push(...o),
      deadLetter: () => void dead++,
    })
    let good = 0
    fc.assert(
      fc.property(topic, payload, (t, p) => {
        engine.ingest(t, p)
        // a well-behaved sensor alongside (values alternate so the deadband keeps each): every reading lands in a window
        engine.ingest(
          's/good/temp',
          Buffer.from(JSON.stringify({ value: good % 2 ? 10 : 0, ts: clock.now() })),
        )
        good++
        clock.advance(7)
        engine.tick(clock.now())
      }),
      { numRuns: RUNS },
    )
    clock.advance(5000)
    engine.tick(clock.now())
    let counted = 0
    for (const o of outputs) {
      const r = o.body as { sensorId?: string; count?: number; correction?: boolean }
      if (o.pipelineId === 'json' && o.stream === 'summary' && r.sensorId === 'good' && !r.correction)
        counted += r.count ?? 0
    }
    expect(counted).toBe(good)
    process.stdout.write(
      `engine fuzz: ${RUNS} cases, ${dead} dead letters, ${good} good readings all summarized\n`,
    )
  })

  it(`wire decoders (message, batch, ack, desired state): ${RUNS} inputs, only FoglineError is ever thrown`, {
    timeout: Math.max(60_000, RUNS * 8),
  }, () => {
    const goodBatch = encodeBatch({
      v: 1,
      nodeId: 'n',
      stream: 'summary',
      batchId: 'b1',
      records: [],
    } as never)
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.anything().map((v) => {
        try {
          return encodeMessage(v)
        } catch {
          return Buffer.alloc(0)
        }
      }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }).map((ms) => {
        const b = Buffer.from(goodBatch)
        for (const [at, byte] of ms) b[at % b.length] = byte
        return b
      }),
    )
    fc.assert(
      fc.property(input, fc.anything(), (buf, doc) => {
        for (const f of [decodeMessage, decodeBatch, decodeAck]) {
          try {
            f(buf)
          } catch (e) {
            expect(e).toBeInstanceOf(FoglineError)
          }
        }
        try {
          verifyDesired(doc, 'MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=')
        } catch (e) {
          expect(e).toBeInstanceOf(FoglineError)
        }
      }),
      { numRuns: RUNS },
    )
  })
})
