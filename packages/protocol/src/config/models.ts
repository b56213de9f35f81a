import { z } from 'zod'

/** Fields every model kind carries: its version and when it was trained (shown in the fleet view). */
const versioned = (threshold: number) => ({
  /** bumped by whoever publishes the model (the cloud's training job); carried on every event */
  version: z.number().int().nonnegative().default(0),
  /** epoch ms the model was fitted, absent for hand-written models */
  trainedAt: z.number().int().nonnegative().optional(),
  /** score in [0, 1] at which an event starts (the stage's `clear` gives the hysteresis) */
  threshold: z.number().gt(0).lt(1).default(threshold),
  note: z.string().optional(),
})

/**
 * Anomaly models: parameters the cloud sends down (desired state `models: { name: {...} }`) or a pipeline
 * writes inline. Every kind scores each reading in [0, 1] (see packages/pipeline/src/detectors):
 * - `ewma`: learns each sensor's level and spread on the node (exponentially weighted mean and variance,
 *   weight `alpha` per reading) after `warmup` readings; z = k scores 0.5.
 * - `gaussian`: fixed mean and standard deviation, per sensor (`sensors`) or for all, e.g. fitted in the
 *   cloud from stored summaries; z = k scores 0.5.
 * - `context`: contextual novelty (CAD OSE family): recent values quantised into `levels` bins, contexts of
 *   up to `length` readings, and the same on the medians of `block`-reading blocks (the slow channel); a
 *   context never seen before, a value beyond every value seen or a block-to-block step beyond every step
 *   seen scores high. The default detector.
 */
const Ewma = z.strictObject({
  kind: z.literal('ewma'),
  alpha: z.number().gt(0).lt(1).default(0.05),
  k: z.number().positive().default(4),
  warmup: z.number().int().nonnegative().default(30),
  /** floor for the learned spread, so a perfectly flat signal does not score every tiny change as infinite */
  minStd: z.number().nonnegative().default(1e-6),
  ...versioned(0.5),
})
const Gaussian = z.strictObject({
  kind: z.literal('gaussian'),
  mean: z.number().optional(),
  std: z.number().positive().optional(),
  /** per sensor id; sensors not listed use mean/std (and are not scored when those are absent) */
  sensors: z.record(z.string(), z.strictObject({ mean: z.number(), std: z.number().positive() })).default({}),
  k: z.number().positive().default(4),
  ...versioned(0.5),
})
const Context = z.strictObject({
  kind: z.literal('context'),
  /** bins across the learned range (two grids, offset by half a bin) */
  levels: z.number().int().min(2).max(64).default(10),
  /** longest context, in readings (fast channel) and in blocks (slow channel) */
  length: z.number().int().min(1).max(8).default(6),
  /** readings per block of the slow channel (their median is one slow reading): contexts span length × block */
  block: z.number().int().min(2).max(64).default(8),
  /** readings that set the range when `low`/`high` are not given */
  warmup: z.number().int().min(2).default(200),
  /** readings after a score during which only a higher score is reported at full strength */
  quiet: z.number().int().nonnegative().max(4096).default(500),
  /** the range the grid spans, e.g. fitted by the cloud; learned from the first `warmup` readings if absent */
  low: z.number().optional(),
  high: z.number().optional(),
  /** readings from the start during which scores flow but no event is raised (the detector is still learning) */
  probation: z.number().int().nonnegative().default(1000),
  // 0.6: on noisy clean series a new context now and then scores 0.4-0.6 (docs/anomaly.md)
  ...versioned(0.6),
})
export const AnomalyModel = z.discriminatedUnion('kind', [Ewma, Gaussian, Context])
export type AnomalyModel = z.output<typeof AnomalyModel>

/** Anomaly models by name, as desired state `models` carries them. */
export const AnomalyModels = z.record(
  z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a model name is 1-64 of [A-Za-z0-9_.-]'),
  AnomalyModel,
)
