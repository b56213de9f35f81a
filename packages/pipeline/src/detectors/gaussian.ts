import type { AnomalyModel } from '@fogline/protocol'
import { type Detector, type DetectorDef, squash } from './types.js'

type GaussianModel = Extract<AnomalyModel, { kind: 'gaussian' }>

/** Fixed mean and spread (fitted elsewhere, e.g. by the cloud); stateless on the node. */
class Gaussian implements Detector {
  expected: number
  low: number
  high: number
  readonly learning = false
  constructor(
    private mean: number,
    private std: number,
    private k: number,
    private readonly sensorId: string,
  ) {
    this.expected = mean
    this.low = mean - k * std
    this.high = mean + k * std
  }

  update(x: number): number {
    return squash(Math.abs(x - this.mean) / this.std, this.k)
  }

  snapshot = () => null
  restore(): void {}
  upgrade(m: AnomalyModel): boolean {
    if (m.kind !== 'gaussian') return false
    const p = params(m, this.sensorId)
    if (p === undefined) return false
    this.mean = p.mean
    this.std = p.std
    this.k = m.k
    this.expected = p.mean
    this.low = p.mean - m.k * p.std
    this.high = p.mean + m.k * p.std
    return true
  }
}

function params(m: GaussianModel, sensorId: string): { mean: number; std: number } | undefined {
  const p = m.sensors[sensorId]
  if (p !== undefined) return p
  return m.mean !== undefined && m.std !== undefined ? { mean: m.mean, std: m.std } : undefined
}

/** `gaussian`: per-sensor (or shared) mean and std; sensors without parameters are not scored. */
export const gaussian: DetectorDef<GaussianModel> = {
  kind: 'gaussian',
  create(m, sensorId) {
    const p = params(m, sensorId)
    return p === undefined ? undefined : new Gaussian(p.mean, p.std, m.k, sensorId)
  },
}
