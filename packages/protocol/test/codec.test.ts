import { encode as msgpackEncode } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import {
  type Batch,
  CODEC_VERSION,
  decodeAck,
  decodeBatch,
  decodeMessage,
  encodeAck,
  encodeBatch,
  encodeMessage,
  FLAG_DEFLATE,
  fromRanges,
  isFoglineError,
  toRanges,
} from '../src/index.js'

const batch = (n: number): Batch => ({
  nodeId: 'node-a',
  stream: 'summary',
  batchId: 'b1',
  sentAt: 1700000000000,
  records: Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    ts: 1700000000000 + i,
    body: {
      pipelineId: 'p',
      sensorId: `s${i % 10}`,
      metric: 'temperature',
      start: i,
      end: i + 1,
      count: 10,
      min: 1,
      max: 2,
      mean: 1.5,
      sum: 15,
    },
  })),
})

describe('wire codec', () => {
  it('round-trips a batch, with and without deflate', () => {
    for (const deflate of [true, false, 'auto'] as const) {
      const b = batch(50)
      const buf = encodeBatch(b, { deflate })
      expect(buf[0]).toBe(CODEC_VERSION)
      expect(decodeBatch(buf)).toEqual(b)
    }
  })

  it('deflates only when it pays in auto mode', () => {
    expect(encodeMessage({ a: 1 })[1]! & FLAG_DEFLATE).toBe(0)
    expect(encodeBatch(batch(100))[1]! & FLAG_DEFLATE).toBe(FLAG_DEFLATE)
  })

  it('refuses an unknown codec version with FOG_CODEC_VERSION and names the topic', () => {
    const buf = encodeMessage({ a: 1 })
    buf[0] = 9
    try {
      decodeMessage(buf, { topic: 'fogline/v1/x/up/summary' })
      expect.unreachable()
    } catch (e) {
      expect(isFoglineError(e, 'FOG_CODEC_VERSION')).toBe(true)
      expect((e as { where: { topic: string } }).where.topic).toBe('fogline/v1/x/up/summary')
    }
  })

  it('refuses garbage, unknown flags and short messages with FOG_CODEC_MALFORMED', () => {
    expect(() => decodeMessage(Buffer.from([1]))).toThrow(
      expect.objectContaining({ code: 'FOG_CODEC_MALFORMED' }),
    )
    expect(() => decodeMessage(Buffer.from([1, 0x80, 1]))).toThrow(
      expect.objectContaining({ code: 'FOG_CODEC_MALFORMED' }),
    )
    expect(() => decodeMessage(Buffer.from([1, 1, 0xff, 0xfe, 0xfd]))).toThrow(
      expect.objectContaining({ code: 'FOG_CODEC_MALFORMED' }),
    )
  })

  it('rejects batches with non-ascending or missing seqs', () => {
    const frame = (v: unknown) => Buffer.concat([Buffer.from([1, 0]), msgpackEncode(v)])
    const b = batch(3)
    b.records[2]!.seq = 2
    expect(() => decodeBatch(frame(b))).toThrow(expect.objectContaining({ code: 'FOG_BATCH_INVALID' }))
    expect(() =>
      decodeBatch(frame({ nodeId: 'a', stream: 'summary', batchId: 'x', records: [{ ts: 1, body: {} }] })),
    ).toThrow(/seq/)
    expect(() => decodeBatch(frame([1, 2]))).toThrow(expect.objectContaining({ code: 'FOG_BATCH_INVALID' }))
  })

  it('round-trips acks and seq ranges', () => {
    const ack = { stream: 'event' as const, batchId: 'b', ranges: toRanges([1, 2, 3, 7, 9, 10]) }
    expect(ack.ranges).toEqual([
      [1, 3],
      [7, 7],
      [9, 10],
    ])
    expect(decodeAck(encodeAck(ack))).toEqual(ack)
    expect(fromRanges(ack.ranges)).toEqual([1, 2, 3, 7, 9, 10])
  })
})
