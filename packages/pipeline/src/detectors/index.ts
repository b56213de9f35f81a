import type { AnomalyModel } from '@fogline/protocol'
import { context } from './context.js'
import { ewma } from './ewma.js'
import { gaussian } from './gaussian.js'
import type { Detector, DetectorDef } from './types.js'

export type { Detector, DetectorDef } from './types.js'
export { squash } from './types.js'

/** Every detector kind, by the model's `kind`: one contract, chosen per pipeline by its model. */
export const detectors: {
  readonly [K in AnomalyModel['kind']]: DetectorDef<Extract<AnomalyModel, { kind: K }>>
} = { ewma, gaussian, context }

/** The detector a model asks for, for one sensor (undefined: the model has nothing for this sensor). */
export function createDetector(model: AnomalyModel, sensorId: string): Detector | undefined {
  return (detectors[model.kind] as DetectorDef).create(model, sensorId)
}

/** The default model when a pipeline names none: contextual novelty with its defaults. */
export const DEFAULT_MODEL = { kind: 'context' } as const
