import { Duration } from '@fogline/protocol'
import { z } from 'zod'
import { perSensorStage } from './per-sensor.js'

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

/** Report by exception per sensor and metric: passes a reading only when it moved past the band (or on max silence). */
export const deadband = perSensorStage({
  name: 'deadband',
  schema: DeadbandConfig,
  create(c) {
    const abs = c.absolute
    const pct = c.percent !== undefined ? c.percent / 100 : undefined
    const silence = c.maxSilence ?? Number.POSITIVE_INFINITY
    return {
      // the last passed reading's value and ts
      open: (key, r) => ({ key, value: r.value, ts: r.ts }),
      step(s, r) {
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
      save: (s): [string[], number, number] => [s.key, s.value, s.ts],
      load: ([key, value, ts]) => ({ key, value, ts }),
    }
  },
})
