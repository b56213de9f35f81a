import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DDSketch } from '../src/sketch.js'

describe('DDSketch', () => {
  it('answers every quantile within α·|x| of the exact element of rank ⌊q·(n−1)⌋, across signs, zero and 17 decades (inside the 2048-bucket span the bound is stated for)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.double({ min: -1e8, max: 1e8, noNaN: true }),
            fc.double({ min: -1e-10, max: 1e-10, noNaN: true }),
            fc.constant(0),
          ),
          {
            minLength: 1,
            maxLength: 400,
          },
        ),
        // α = 0.1% spans only ln(γ^2048) ≈ 1.8 decades per store, so it is not drawn here
        fc.constantFrom(0.01, 0.02, 0.05),
        (vals, alpha) => {
          const d = new DDSketch(alpha)
          for (const v of vals) d.add(v)
          const sorted = [...vals].sort((a, b) => a - b)
          const restored = DDSketch.fromJSON(alpha, JSON.parse(JSON.stringify(d.toJSON())))
          for (const q of [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1]) {
            const x = sorted[Math.floor(q * (sorted.length - 1))]!
            const est = d.quantile(q)
            expect(Math.abs(est - x), `q=${q}`).toBeLessThanOrEqual(alpha * Math.abs(x) * (1 + 1e-9) + 1e-9)
            expect(restored.quantile(q)).toBe(est)
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('stays bounded in size on a value range wider than its bucket cap', () => {
    const d = new DDSketch(0.01)
    for (let e = -300; e <= 300; e += 0.5) d.add(10 ** e)
    expect(d.toJSON()[3].length).toBeLessThanOrEqual(2048)
    const top = d.quantile(1)
    expect(Math.abs(top - 1e300) / 1e300).toBeLessThanOrEqual(0.01)
  })
})
