import type { DataStream, Reading } from '@fogline/protocol'
import type { z } from 'zod'
import { Keyed, SENSOR_KEY } from '../keyed.js'
import type { StageContext, StageDef } from '../types.js'

/**
 * What a stage that keeps one state per sensor and metric does with it. Lifecycle per sensor: open (its
 * first reading) → step (each later one; with `first: 'step'` the first one too) → save/load (checkpoints).
 */
export interface SensorLogic<S extends { key: string[] }, Row extends unknown[]> {
  /** the state for a sensor's first reading, under `key` */
  open(key: string[], r: Reading): S
  /** the reading to pass on (`r`, changed or not, or another one) or undefined to drop it */
  step(s: S, r: Reading): Reading | undefined
  /** the state as a JSON-serializable snapshot row, and back */
  save(s: S): Row
  load(row: Row): S
}

/**
 * A built-in stage whose state is one entry per sensor and metric: this keeps the entries, looks each
 * reading's one up and snapshots them as rows; the stage says only what its state is and does.
 * @example export const deadband = perSensorStage({ name: 'deadband', schema, create(c) { return { open, step, save, load } } })
 */
export function perSensorStage<C, S extends { key: string[] }, Row extends unknown[]>(def: {
  name: string
  schema: z.ZodType<C>
  emits?: readonly DataStream[]
  /** a sensor's first reading opens its state and passes as is ('pass', the default) or is then stepped ('step') */
  first?: 'pass' | 'step'
  create(config: C, ctx: StageContext): SensorLogic<S, Row>
}): StageDef<C> {
  const { first, create, ...meta } = def
  return {
    ...meta,
    create(config, ctx) {
      const { open, step, save, load } = create(config, ctx)
      const state = new Keyed<S>(SENSOR_KEY)
      // two bodies rather than a per-reading branch on `first`
      const process =
        first === 'step'
          ? (r: Reading) => step(state.get(r) ?? state.add(open(state.keyOf(r), r)), r)
          : (r: Reading) => {
              const s = state.get(r)
              if (s !== undefined) return step(s, r)
              state.add(open(state.keyOf(r), r))
              return r
            }
      return {
        process,
        snapshot: () => [...state.all].map(save),
        restore(st) {
          state.clear()
          for (const row of st as Row[]) state.add(load(row))
        },
      }
    },
  }
}
