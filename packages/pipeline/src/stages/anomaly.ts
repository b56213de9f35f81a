import type { FogEvent } from '@fogline/protocol'
import { z } from 'zod'
import { Keyed, SENSOR_KEY } from '../keyed.js'
import { type AnomalyModel, AnomalyModel as AnomalyModelSchema } from '../models.js'
import type { StageDef } from '../types.js'

export const AnomalyConfig = z.strictObject({
  type: z.literal('anomaly'),
  /** a model's name (sent by the cloud in desired state `models`) or the model itself, inline */
  model: z.union([z.string().min(1), AnomalyModelSchema]),
  /** event name */
  name: z.string().min(1).default('anomaly'),
  severity: z.enum(['info', 'warning', 'critical']).default('warning'),
  /** an episode ends once a reading scores below clear × k (hysteresis: one event per episode, not per reading) */
  clear: z.number().gt(0).max(1).default(0.75),
})
export type AnomalyConfig = z.output<typeof AnomalyConfig>

interface SensorState {
  key: string[]
  /** readings learned (ewma) */
  n: number
  mean: number
  variance: number
  /** in an anomaly episode */
  active: boolean
}

/**
 * Scores each reading against an anomaly model (see ../models.ts) and emits one `anomaly` FogEvent when a
 * sensor's score first exceeds the model's k, with the score, the expected value and the model; the episode
 * ends when the score drops below clear × k. Passes every reading on. A named model that the node does not
 * hold (yet) scores nothing; the `ewma` state (per sensor) is checkpointed.
 */
export const anomaly: StageDef<AnomalyConfig> = {
  name: 'anomaly',
  schema: AnomalyConfig,
  emits: ['event'],
  create(c, ctx) {
    const state = new Keyed<SensorState>(SENSOR_KEY)
    const inline = typeof c.model === 'string' ? undefined : c.model
    const modelName = typeof c.model === 'string' ? c.model : 'inline'
    const current = (): AnomalyModel | undefined => inline ?? ctx.models.get(modelName)
    return {
      process(r) {
        const m = current()
        if (m === undefined) return r
        const x = r.value
        let s = state.get(r)
        if (s === undefined) s = state.add({ key: state.keyOf(r), n: 0, mean: x, variance: 0, active: false })
        let expected: number
        let std: number
        if (m.kind === 'gaussian') {
          const p = m.sensors[r.sensorId] ?? (m.mean !== undefined && m.std !== undefined ? m : undefined)
          if (p === undefined) return r
          expected = p.mean!
          std = p.std!
        } else {
          expected = s.mean
          std = Math.max(Math.sqrt(s.variance), m.minStd)
          if (s.n < m.warmup) {
            // plain running mean and variance while warming up (alpha = 1/n), exponential after
            learn(s, x, Math.max(m.alpha, 1 / (s.n + 1)))
            return r
          }
        }
        const score = Math.abs(x - expected) / std
        if (!s.active && score > m.k) {
          s.active = true
          const e: FogEvent = {
            pipelineId: ctx.pipelineId,
            sensorId: r.sensorId,
            metric: r.metric,
            ts: r.ts,
            kind: 'anomaly',
            name: c.name,
            value: x,
            severity: c.severity,
            detail: {
              score: round(score),
              expected: round(expected),
              std: round(std),
              model: modelName,
              modelKind: m.kind,
              k: m.k,
            },
          }
          ctx.emit('event', r.ts, e)
        } else if (s.active && score < c.clear * m.k) s.active = false
        if (m.kind === 'ewma') {
          // an outlier moves the learned level only as far as the k band, so a spike does not teach the
          // model that spikes are normal, while a lasting level shift is learned within a few 1/alpha readings
          const lim = m.k * std
          learn(s, Math.min(expected + lim, Math.max(expected - lim, x)), m.alpha)
        }
        return r
      },
      snapshot: () => [...state.all].map((s) => [s.key, s.n, s.mean, s.variance, s.active ? 1 : 0]),
      restore(st) {
        state.clear()
        for (const [key, n, mean, variance, active] of st as Array<
          [string[], number, number, number, number]
        >)
          state.add({ key, n, mean, variance, active: active === 1 })
      },
    }
  },
}

/** Exponentially weighted mean and variance (West 1979 / Finch 2009 incremental form). */
function learn(s: SensorState, x: number, alpha: number): void {
  if (s.n === 0) {
    s.mean = x
    s.variance = 0
  } else {
    const d = x - s.mean
    const inc = alpha * d
    s.mean += inc
    s.variance = (1 - alpha) * (s.variance + d * inc)
  }
  s.n++
}

const round = (v: number) => Math.round(v * 1e6) / 1e6
