import { z } from 'zod'

/**
 * Anomaly models: parameters the cloud sends down (desired state `models: { name: {...} }`) or a pipeline
 * writes inline. Both kinds score a reading as |x − expected| / spread (a z-score):
 * - `ewma`: learns each sensor's level and spread on the node (exponentially weighted mean and variance,
 *   weight `alpha` per reading) after `warmup` readings. Needs no history in the cloud.
 * - `gaussian`: fixed mean and standard deviation, per sensor (`sensors`) or for all, e.g. fitted in the
 *   cloud from stored summaries. Scores from the first reading.
 * A reading scoring above `k` starts an anomaly episode.
 */
const Ewma = z.strictObject({
  kind: z.literal('ewma'),
  alpha: z.number().gt(0).lt(1).default(0.05),
  k: z.number().positive().default(4),
  warmup: z.number().int().nonnegative().default(30),
  /** floor for the learned spread, so a perfectly flat signal does not score every tiny change as infinite */
  minStd: z.number().nonnegative().default(1e-6),
  note: z.string().optional(),
})
const Gaussian = z.strictObject({
  kind: z.literal('gaussian'),
  mean: z.number().optional(),
  std: z.number().positive().optional(),
  /** per sensor id; sensors not listed use mean/std (and are not scored when those are absent) */
  sensors: z.record(z.string(), z.strictObject({ mean: z.number(), std: z.number().positive() })).default({}),
  k: z.number().positive().default(4),
  note: z.string().optional(),
})
export const AnomalyModel = z.discriminatedUnion('kind', [Ewma, Gaussian])
export type AnomalyModel = z.output<typeof AnomalyModel>

/** Anomaly models by name, as desired state `models` carries them. */
export const AnomalyModels = z.record(
  z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a model name is 1-64 of [A-Za-z0-9_.-]'),
  AnomalyModel,
)
