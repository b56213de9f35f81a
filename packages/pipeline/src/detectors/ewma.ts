import type { AnomalyModel } from '@fogline/protocol'
import { type Detector, type DetectorDef, squash } from './types.js'

type EwmaModel = Extract<AnomalyModel, { kind: 'ewma' }>

/** Exponentially weighted mean and variance (West 1979 / Finch 2009 incremental form), z-scored. */
class Ewma implements Detector {
  n = 0
  mean = 0
  variance = 0
  expected = 0
  low = 0
  high = 0
  constructor(private m: EwmaModel) {}

  get learning(): boolean {
    return this.n < this.m.warmup
  }

  update(x: number): number {
    const m = this.m
    const std = Math.max(Math.sqrt(this.variance), m.minStd)
    this.expected = this.mean
    this.low = this.mean - m.k * std
    this.high = this.mean + m.k * std
    if (this.n < m.warmup) {
      // plain running mean and variance while warming up (alpha = 1/n), exponential after
      this.learn(x, Math.max(m.alpha, 1 / (this.n + 1)))
      return 0
    }
    const z = Math.abs(x - this.mean) / std
    // an outlier moves the learned level only as far as the k band, so a spike does not teach the model
    // that spikes are normal, while a lasting level shift is learned within a few 1/alpha readings
    this.learn(Math.min(this.high, Math.max(this.low, x)), m.alpha)
    return squash(z, m.k)
  }

  private learn(x: number, alpha: number): void {
    if (this.n === 0) {
      this.mean = x
      this.variance = 0
    } else {
      const d = x - this.mean
      const inc = alpha * d
      this.mean += inc
      this.variance = (1 - alpha) * (this.variance + d * inc)
    }
    this.n++
  }

  snapshot = () => [this.n, this.mean, this.variance]
  restore(s: unknown): void {
    ;[this.n, this.mean, this.variance] = s as [number, number, number]
  }
  upgrade(m: AnomalyModel): boolean {
    if (m.kind !== 'ewma') return false
    this.m = m
    return true
  }
}

/** `ewma`: level and spread learned on the node; a fast baseline for level shifts and spikes. */
export const ewma: DetectorDef<EwmaModel> = { kind: 'ewma', create: (m) => new Ewma(m) }
