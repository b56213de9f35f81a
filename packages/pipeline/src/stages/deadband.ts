import { Duration } from '@fogline/protocol'
import { z } from 'zod'
import { Keyed, SENSOR_KEY } from '../keyed.js'
import type { StageDef } from '../types.js'

export const DeadbandConfig = z
  .strictObject({
    type: z.literal('deadband'),
    /** pass when |value − last passed| > absolute */
    absolute: z.number().nonnegative().optional(),
    /** pass when |value − last passed| > percent% of |last passed| */
    percent: z.number().nonnegative().optional(),
    /** pass anyway when nothing passed for this long (a heartbeat), by reading time */
    maxSilence: Duration.optional(),
  })
  .refine((c) => c.absolute !== undefined || c.percent !== undefined, {
    message: 'a deadband needs absolute or percent',
  })
export type DeadbandConfig = z.output<typeof DeadbandConfig>

interface Last {
  key: string[]
  value: number
  ts: number
}

/** Report by exception per sensor and metric: passes a reading only when it moved past the band (or on max silence). */
export const deadband: StageDef<DeadbandConfig> = {
  name: 'deadband',
  schema: DeadbandConfig,
  create(c) {
    const state = new Keyed<Last>(SENSOR_KEY)
    const abs = c.absolute
    const pct = c.percent !== undefined ? c.percent / 100 : undefined
    const silence = c.maxSilence ?? Number.POSITIVE_INFINITY
    return {
      process(r) {
        const s = state.get(r)
        if (s === undefined) {
          state.add({ key: state.keyOf(r), value: r.value, ts: r.ts })
          return r
        }
        const d = Math.abs(r.value - s.value)
        const pass =
          (abs !== undefined && d > abs) ||
          (pct !== undefined && d > pct * Math.abs(s.value)) ||
          r.ts - s.ts >= silence
        if (!pass) return undefined
        s.value = r.value
        s.ts = r.ts
        return r
      },
      snapshot: () => [...state.all].map((s) => [s.key, s.value, s.ts]),
      restore(st) {
        state.clear()
        for (const [key, value, ts] of st as Array<[string[], number, number]>) state.add({ key, value, ts })
      },
    }
  },
}
