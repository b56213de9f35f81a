import type { AnomalyModel } from '@fogline/protocol'

/**
 * One sensor's detector. Lifecycle: create(model) → (update)* → snapshot → restore → (update)*.
 * `update` scores a reading in [0, 1] (0 = as expected, 1 = as odd as it gets) and then learns from it;
 * `low`/`expected`/`high` describe what the detector expected for that reading. Deterministic: the same
 * readings after the same snapshot give the same scores.
 */
export interface Detector {
  update(x: number): number
  readonly expected: number
  readonly low: number
  readonly high: number
  /** still learning: the stage raises no event yet (scores still flow) */
  readonly learning: boolean
  /** JSON-serialisable; JSON.parse(JSON.stringify(s)) restores to the same state */
  snapshot(): unknown
  restore(state: unknown): void
  /** take a new version of the same kind, keeping the running state; false when the shapes differ */
  upgrade(model: AnomalyModel): boolean
}

/** A detector kind: builds one sensor's detector, or undefined when the model has nothing for that sensor. */
export interface DetectorDef<M extends AnomalyModel = AnomalyModel> {
  readonly kind: M['kind']
  create(model: M, sensorId: string): Detector | undefined
}

/** z → [0, 1): z²/(z²+k²), so z = k scores 0.5, monotone and never saturated by float rounding. */
export function squash(z: number, k: number): number {
  const z2 = z * z
  return z2 / (z2 + k * k)
}
