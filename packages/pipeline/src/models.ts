import { FoglineError } from '@fogline/protocol'
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

/** The models a node holds, by name; stages read them on every reading, so a push takes effect at once. */
export class ModelRegistry {
  private models = new Map<string, AnomalyModel>()
  /** bumped on every change, so stages can tell a new version from the one they saw */
  version = 0

  get(name: string): AnomalyModel | undefined {
    return this.models.get(name)
  }

  names(): string[] {
    return [...this.models.keys()].sort()
  }

  /**
   * Replace all models at once; throws FOG_CONFIG_INVALID naming the model and field and keeps the old set
   * when any is invalid.
   * @example engine.models.set({ vib: { kind: 'ewma', k: 5 } })
   */
  set(raw: unknown): void {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      throw new FoglineError('FOG_CONFIG_INVALID', 'models must be an object of name: model', {
        field: 'models',
      })
    const next = new Map<string, AnomalyModel>()
    for (const [name, m] of Object.entries(raw)) {
      const r = AnomalyModel.safeParse(m)
      if (!r.success) {
        const issue = r.error.issues[0]!
        const path = ['models', name, ...issue.path.map(String)].join('.')
        throw new FoglineError('FOG_CONFIG_INVALID', `model "${name}": ${issue.message} at ${path}`, {
          field: path,
        })
      }
      next.set(name, r.data)
    }
    this.models = next
    this.version++
  }
}
