import type { FogEvent, Reading } from '@fogline/protocol'
import { z } from 'zod'
import { createDetector, DEFAULT_MODEL, type Detector } from '../detectors/index.js'
import { Keyed, SENSOR_KEY } from '../keyed.js'
import { type AnomalyModel, AnomalyModel as AnomalyModelSchema } from '../models.js'
import type { StageContext, StageDef } from '../types.js'

export const AnomalyConfig = z.strictObject({
  type: z.literal('anomaly'),
  /** a model's name (sent by the cloud in desired state `models`) or the model itself, inline; default `context` */
  model: z.union([z.string().min(1), AnomalyModelSchema]).prefault(DEFAULT_MODEL),
  /**
   * with a named model: the model scored with until the node holds the named one (e.g. `{ kind: context }`:
   * a sensor is watched from its first reading, before the cloud has trained anything); absent: nothing is
   * scored until then
   */
  fallback: AnomalyModelSchema.optional(),
  /** event name */
  name: z.string().min(1).default('anomaly'),
  severity: z.enum(['info', 'warning', 'critical']).default('warning'),
  /** score at which an event starts; default the model's `threshold` */
  threshold: z.number().gt(0).lt(1).optional(),
  /** an episode ends once a reading scores below clear × threshold (hysteresis: one event per episode) */
  clear: z.number().gt(0).max(1).default(0.75),
  /** what the stage passes on: the reading unchanged, or the reading with `value` replaced by its score */
  output: z.enum(['reading', 'score']).default('reading'),
})
export type AnomalyConfig = z.output<typeof AnomalyConfig>

interface SensorState {
  key: string[]
  det: Detector | undefined
  /** the model object the detector was built from (a push replaces the object) */
  model: AnomalyModel
  active: boolean
}

/** snapshot row: key, model kind, detector state, active */
type Saved = [string[], string, unknown, number]

/**
 * Scores every reading in [0, 1] with the pipeline's detector (one per sensor, see ../detectors) and emits
 * an `anomaly` FogEvent when a sensor's score reaches the threshold, carrying the score, the expected value
 * and range, the detector kind and the model version; the episode ends when the score drops below
 * clear × threshold. Passes every reading on (or its score, with `output: score`, e.g. into a window's
 * `max`). A named model the node does not hold (yet) scores nothing. Detector state is checkpointed; a pushed
 * model of the same shape keeps it (upgrade), another shape starts the sensor afresh.
 */
export const anomaly: StageDef<AnomalyConfig> = {
  name: 'anomaly',
  schema: AnomalyConfig,
  emits: ['event'],
  create(c, ctx) {
    const state = new Keyed<SensorState>(SENSOR_KEY)
    const inline = typeof c.model === 'string' ? undefined : c.model
    const modelName = typeof c.model === 'string' ? c.model : 'inline'
    const current = (): AnomalyModel | undefined => inline ?? ctx.models.get(modelName) ?? c.fallback
    // restored detector states wait here until their sensor's first reading (the model may arrive later)
    const pending = new Map<string, Saved>()
    const sensorOf = (r: Reading, m: AnomalyModel): SensorState => {
      let s = state.get(r)
      if (s === undefined) {
        s = state.add({ key: state.keyOf(r), det: createDetector(m, r.sensorId), model: m, active: false })
        const id = JSON.stringify(s.key)
        const saved = pending.get(id)
        if (saved !== undefined && saved[1] === m.kind && s.det !== undefined) {
          s.det.restore(saved[2])
          s.active = saved[3] === 1
        }
        pending.delete(id)
      } else if (s.model !== m) {
        if (s.det === undefined || !s.det.upgrade(m)) s.det = createDetector(m, r.sensorId)
        s.model = m
      }
      return s
    }
    return {
      process(r) {
        const m = current()
        if (m === undefined) return r
        const s = sensorOf(r, m)
        if (s.det === undefined) return r
        const score = s.det.update(r.value)
        const threshold = c.threshold ?? m.threshold
        if (!s.active && score >= threshold && !s.det.learning) {
          s.active = true
          ctx.emit(
            'event',
            r.ts,
            event(c, ctx, r, s.det, score, m, m === c.fallback ? 'fallback' : modelName),
          )
        } else if (s.active && score < c.clear * threshold) s.active = false
        if (c.output === 'score') r.value = score
        return r
      },
      snapshot: () =>
        [
          ...[...state.all].map((s): Saved => [s.key, s.model.kind, s.det?.snapshot(), s.active ? 1 : 0]),
          ...pending.values(),
        ] satisfies Saved[],
      restore(st) {
        state.clear()
        pending.clear()
        for (const row of st as Saved[]) pending.set(JSON.stringify(row[0]), row)
      },
    }
  },
}

function event(
  c: AnomalyConfig,
  ctx: StageContext,
  r: Reading,
  d: Detector,
  score: number,
  m: AnomalyModel,
  modelName: string,
): FogEvent {
  return {
    pipelineId: ctx.pipelineId,
    sensorId: r.sensorId,
    metric: r.metric,
    ts: r.ts,
    kind: 'anomaly',
    name: c.name,
    value: r.value,
    severity: c.severity,
    detail: {
      score: round(score),
      expected: round(d.expected),
      low: round(d.low),
      high: round(d.high),
      detector: m.kind,
      model: modelName,
      version: m.version,
      ...(m.trainedAt !== undefined ? { trainedAt: m.trainedAt } : {}),
    },
  }
}

const round = (v: number) => Math.round(v * 1e6) / 1e6
