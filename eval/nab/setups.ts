/**
 * The detector setups `npm run eval:nab` compares. "untrained" is the model as a pipeline would write it;
 * "trained" is the model fitted on the series' first 15 % (NAB's probationary rows, which are never scored)
 * by `train`, the way the cloud fits a model from a first period and pushes it down.
 */
import { probationaryLength } from './scorer.js'

export interface Setup {
  name: string
  trained: boolean
  model(values: number[]): unknown
}

function head(values: number[]): number[] {
  return values.slice(0, Math.max(2, probationaryLength(values.length)))
}

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length
  return { mean, std: Math.max(Math.sqrt(v), 1e-6) }
}

export const SETUPS: Setup[] = [
  { name: 'context', trained: false, model: () => ({ kind: 'context' }) },
  {
    name: 'context',
    trained: true,
    model: (v) => {
      const h = head(v)
      return { kind: 'context', low: Math.min(...h), high: Math.max(...h), version: 1 }
    },
  },
  { name: 'ewma', trained: false, model: () => ({ kind: 'ewma' }) },
  {
    name: 'ewma (docs: α .02 k 5)',
    trained: false,
    model: () => ({ kind: 'ewma', alpha: 0.02, k: 5, warmup: 100 }),
  },
  {
    name: 'ewma',
    trained: true,
    // the first period sets the level and spread: warm up over it instead of 30 readings
    model: (v) => ({ kind: 'ewma', warmup: head(v).length, version: 1 }),
  },
  { name: 'gaussian', trained: true, model: (v) => ({ kind: 'gaussian', ...meanStd(head(v)), version: 1 }) },
]
