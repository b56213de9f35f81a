import { decodeBatch } from '@fogline/protocol'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { encodeBatchSpliced } from '../src/wire.js'
import { summary } from './helpers.js'

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' })

describe('spliced batch encoding', () => {
  for (const n of [1, 15, 16, 500, 70_000]) {
    for (const deflate of [false, true, 'auto'] as const) {
      it(`decodes with the protocol codec: ${n} records, deflate ${deflate}`, () => {
        const recs = Array.from({ length: n }, (_, i) => ({
          seq: i === n - 1 ? 2 ** 40 + i : i + 1,
          ts: 1_767_225_600_000 + i * 0.5,
          body: summary(i),
        }))
        const enc = recs.map((r) => ({ seq: r.seq, ts: r.ts, body: packr.pack(r.body), bytes: 0 }))
        const head = { nodeId: 'node-a', stream: 'summary', batchId: 'b-1', sentAt: 1_767_225_600_123 }
        const buf = encodeBatchSpliced(head, enc, { deflate, minDeflateBytes: 256, level: 1 })
        expect(buf[0]).toBe(1)
        expect(buf[1]! & 1).toBe(deflate === false || (deflate === 'auto' && n === 1) ? 0 : 1)
        expect(decodeBatch(buf)).toEqual({ ...head, records: recs })
      })
    }
  }
})
