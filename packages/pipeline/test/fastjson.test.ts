import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type FlatOut, scanFlat } from '../src/fastjson.js'

const keys = { value: Buffer.from('value'), ts: Buffer.from('ts') }
const out = (): FlatOut => ({ value: 0, ts: 0, hasValue: false, hasTs: false })

/** what the slow path (JSON.parse) reads from the same bytes */
function slow(text: string): { value?: unknown; ts?: unknown } | number | undefined {
  try {
    const v = JSON.parse(text)
    return typeof v === 'number' ? v : v && typeof v === 'object' && !Array.isArray(v) ? v : undefined
  } catch {
    return undefined
  }
}

describe('fast JSON path', () => {
  it('reads exactly the numbers JSON.parse reads, for any double, in bare and object payloads', () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.integer({ min: 0, max: 2 ** 50 }),
        fc.boolean(),
        (v, ts, pretty) => {
          const o = out()
          const obj = pretty
            ? JSON.stringify({ id: 'x', value: v, ok: true, ts, n: null }, null, 2)
            : JSON.stringify({ value: v, ts })
          expect(scanFlat(Buffer.from(obj), keys, o)).toBe(true)
          expect(o.value === JSON.parse(obj).value && o.ts === ts && o.hasValue && o.hasTs).toBe(true)
          const o2 = out()
          expect(scanFlat(Buffer.from(JSON.stringify(v)), keys, o2)).toBe(true)
          expect(o2.value === JSON.parse(JSON.stringify(v))).toBe(true)
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('reads decimal texts sensors send exactly like JSON.parse (incl. exponents and long mantissas)', () => {
    const digits = fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 20 })
    fc.assert(
      fc.property(
        fc.boolean(),
        digits,
        fc.option(digits),
        fc.option(fc.integer({ min: -330, max: 330 })),
        (neg, int, frac, exp) => {
          const text = `${neg ? '-' : ''}${int}${frac !== null ? `.${frac}` : ''}${exp !== null ? `e${exp}` : ''}`
          const o = out()
          const ok = scanFlat(Buffer.from(`{"value":${text}}`), keys, o)
          const ref = slow(`{"value":${text}}`) as { value: number } | undefined
          if (ok) expect(ref !== undefined && o.value === ref.value).toBe(true)
          else expect(ref === undefined || text.includes('e')).toBe(true) // gave up: only invalid JSON (leading zeros) or rare cases
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('never accepts what JSON.parse refuses, and gives up on anything it does not fully read', () => {
    const alphabet = fc.constantFrom(...'{}[]":,. -+eE0123456789valuets\\ntrufalsn\t'.split(''))
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 40 }), (text) => {
        const o = out()
        if (scanFlat(Buffer.from(text), keys, o)) {
          const ref = slow(text)
          expect(ref, text).not.toBeUndefined()
          const v = typeof ref === 'number' ? ref : (ref as { value?: unknown }).value
          if (o.hasValue) expect(o.value === v, text).toBe(true)
          else expect(typeof v === 'number', text).toBe(false)
        }
      }),
      { numRuns: 5000 },
    )
    for (const t of [
      '{"value":"1"}',
      '{"value":{"a":1}}',
      '{"va\\u006cue":1}',
      '{"value":1',
      '{"value":1}x',
      '01',
      '{"value":01}',
      '[1]',
      '1.',
      '-',
    ])
      expect(scanFlat(Buffer.from(t), keys, out()), t).toBe(false)
  })
})
