import { describe, expect, it } from 'vitest'
import {
  bestThreshold,
  countedWindows,
  normalise,
  probationaryLength,
  scaledSigmoid,
  scoreAt,
  sweepRows,
} from '../../eval/nab/scorer.js'

/**
 * The NAB scorer in eval/nab against the values NAB documents (sweeper.py docstring: 0.98661 at a window's
 * left edge, 0.84828 half way, 0 at the right edge, −0.98661 one width past it), the probationary rule, the
 * earliest-detection rule, the FP weighting, the threshold sweep, and the 100 / 0 normalisation of a perfect
 * and a null detector. Synthetic series: the test does not need the NAB data.
 */
const standard = { tpWeight: 1, fpWeight: 0.11, fnWeight: 1 }
const lowFn = { tpWeight: 1, fpWeight: 0.11, fnWeight: 2 }

describe('NAB scorer', () => {
  it('scaled sigmoid and probationary length follow NAB', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5)
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.84828, 5)
    expect(scaledSigmoid(0)).toBe(0)
    expect(scaledSigmoid(1)).toBeCloseTo(-0.98661, 5)
    expect(scaledSigmoid(3)).toBe(-1)
    expect(probationaryLength(1000)).toBe(150)
    expect(probationaryLength(4032)).toBe(604)
    expect(probationaryLength(22695)).toBe(750)
  })

  it('a detection earns by its place in the window; outside, it costs fpWeight scaled by the distance', () => {
    const scores = new Array(1000).fill(0)
    const rows = sweepRows('f', scores, [{ start: 400, end: 499 }], standard)
    expect(rows[100]!.window).toBe('probationary')
    expect(rows[400]!.weight).toBeCloseTo(1, 12) // left edge: tpWeight exactly (divided by maxTP)
    expect(rows[450]!.weight).toBeCloseTo(scaledSigmoid(-50 / 100) / scaledSigmoid(-1), 12)
    expect(rows[399]!.weight).toBeCloseTo(-0.11, 12) // before any window: a full FP
    expect(rows[499 + 99]!.weight).toBeCloseTo(scaledSigmoid(1) * 0.11, 12) // one width past the window
    expect(rows[600]!.window).toBeUndefined()
  })

  it('only the earliest detection in a window counts; every FP counts; the sweep finds the best threshold', () => {
    const scores = new Array(1000).fill(0)
    scores[420] = 0.9 // early in the window
    scores[480] = 0.95 // later, higher: a detection, but worth less than the early one
    scores[300] = 0.8 // false positive before the window
    const rows = sweepRows('f', scores, [{ start: 400, end: 499 }], standard)
    const early = rows[420]!.weight
    expect(scoreAt(rows, standard, 0.95).score).toBeCloseTo(rows[480]!.weight, 12)
    expect(scoreAt(rows, standard, 0.9).score).toBeCloseTo(early, 12)
    expect(scoreAt(rows, standard, 0.8).score).toBeCloseTo(early - 0.11, 12)
    expect(scoreAt(rows, standard, 1.1).score).toBe(-1)
    expect(bestThreshold(rows, standard)).toMatchObject({ threshold: 0.9, tp: 2, fp: 0 })
  })

  it('normalises a perfect detector to 100 and a null one to 0, on every profile', () => {
    const windows = [
      { start: 300, end: 349 },
      { start: 700, end: 760 },
    ]
    const perfect = Array.from({ length: 1000 }, (_, i) => (i === 300 || i === 700 ? 1 : 0))
    for (const cost of [standard, lowFn]) {
      const p = sweepRows('f', perfect, windows, cost)
      const n = sweepRows('f', new Array(1000).fill(0.5), windows, cost)
      expect(countedWindows(p)).toBe(2)
      expect(normalise(bestThreshold(p, cost).score, 2, cost)).toBeCloseTo(100, 10)
      expect(normalise(bestThreshold(n, cost).score, 2, cost)).toBeCloseTo(0, 10)
    }
  })
})
